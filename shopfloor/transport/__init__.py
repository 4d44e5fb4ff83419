"""Where events come from and go to: a real Kafka broker, or the embedded in-process log."""
