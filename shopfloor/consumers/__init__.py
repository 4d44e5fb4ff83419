"""Kafka in, dead letters out: the loop that feeds batches to the store."""
