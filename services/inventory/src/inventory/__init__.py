"""Inventory: what can be sold (seats and room-nights), who may sell it, and holds on it."""

SERVICE = "inventory"
VERSION = "0.1.0"
