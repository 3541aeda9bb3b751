"""A local Alpaca Broker API: the subset the closure service uses, plus a control plane under /_sim."""
