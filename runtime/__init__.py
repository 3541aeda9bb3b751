"""What every process shares: settings, logging, metrics, the Temporal connection."""
