"""Where judged results go besides metrics: violation records (a Kafka topic or JSON Lines)."""
