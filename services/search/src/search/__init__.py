"""Search: read models of trips and hotels, rebuilt at will from inventory's events."""

SERVICE = "search"
VERSION = "0.1.0"
