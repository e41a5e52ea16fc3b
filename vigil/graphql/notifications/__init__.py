"""Notification subscriptions over GraphQL: who hears of which escalations, and where."""
