"""Tripline's shared library: the plumbing every service stands on."""
