"""Pure folds: event -> read-model rows. No I/O here; time comes from the events."""
