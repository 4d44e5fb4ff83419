"""Change push without HTTP: the hub that coalesces commits into frames, and the PostgreSQL NOTIFY
listener that tells a web replica about another process's commits. Web streams read from here."""
