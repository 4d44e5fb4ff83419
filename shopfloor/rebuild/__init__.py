"""Zero-downtime rebuilds: replay the log into shadow tables, catch up, swap in one transaction."""
