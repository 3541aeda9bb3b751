"""Activities, grouped by the external system they talk to."""
