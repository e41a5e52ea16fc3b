"""The GraphQL interface: strawberry types, queries and mutations, organised by feature."""
