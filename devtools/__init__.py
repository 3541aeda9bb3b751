"""Developer tools: the demo, the local stack, the invariant checker. Production never imports them."""
