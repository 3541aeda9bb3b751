"""Domain of the account closure service: policy, progress, errors, settings."""
