"""Use cases, projections and the ports through which they reach the outside."""
