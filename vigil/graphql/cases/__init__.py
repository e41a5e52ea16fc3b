"""Cases over GraphQL: the case list, one case with its alerts and timeline, and casework."""
