"""Adapters that implement the application's ports on real services."""
