"""Inventory's tables (its database only)."""

from tripline.db import new_metadata
from tripline.plumbing import define_plumbing_tables

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)
