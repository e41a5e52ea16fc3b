"""Vigil: event-sourced fraud and anomaly detection with analyst case management."""
