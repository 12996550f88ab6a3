"""Bookings: the booking lifecycle, and the saga that reserves inventory, debits the wallet and confirms."""

SERVICE = "bookings"
VERSION = "0.1.0"
