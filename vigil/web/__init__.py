"""The web interface: the Litestar app, the analyst console and the GraphQL endpoint."""
