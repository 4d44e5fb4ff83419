"""Logs, and later traces, that follow one event from Kafka through projection to the SSE push."""
