"""Temporal workflows of the account closure service."""
