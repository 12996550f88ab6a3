"""Messaging plumbing: envelope, contracts, outbox and relay, inbox, consumers and the dead-letter stream."""
