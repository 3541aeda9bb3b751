"""One sub-package per external system: its client and the translation of its errors."""
