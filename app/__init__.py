"""The service: shared state, an update log in SQLite, an optional API key."""
