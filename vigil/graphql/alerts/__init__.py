"""Alerts as GraphQL sees them: the queue, one alert with its timeline, and analyst actions."""
