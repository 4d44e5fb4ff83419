"""Event contracts as JSON Schema: exported, committed, and checked for BACKWARD compatibility."""
