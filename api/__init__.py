"""The HTTP API (FastAPI): initiation, progress and operator endpoints."""
