"""Entities over GraphQL: everything known about one customer, card or device."""
