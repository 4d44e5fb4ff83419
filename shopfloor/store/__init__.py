"""The read-model store: SQLite or PostgreSQL through SQLAlchemy, same code for both."""
