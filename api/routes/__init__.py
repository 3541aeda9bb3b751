"""Route modules, one per audience."""
