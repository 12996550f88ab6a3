"""Message payloads exchanged between services, one module per publishing context."""
