"""Aggregates, value objects, domain events and pure policies: no I/O, no frameworks."""
