"""Redis: the progress mirror the frontend reads, and the legacy closure keys."""
