"""The read-model database: tables, engine, schema migrations and the queries analysts run."""
