"""Analytics queries: plain functions of a Connection, the same on SQLite and PostgreSQL."""
