"""The Alpaca Broker API through the unmodified alpaca-py client."""
