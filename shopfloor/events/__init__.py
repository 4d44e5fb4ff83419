"""Event contracts: the CloudEvents envelope and the typed `data` of every event type."""
