"""Payments: wallets, the double-entry ledger, and idempotent booking debits and refunds."""

SERVICE = "payments"
VERSION = "0.1.0"
