"""Ops alerts to a webhook: a Slack-compatible message or a signed JSON body, retried, then dead-lettered."""
