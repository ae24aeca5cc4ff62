"""Where messages come from: a Kafka consumer group (kafka.py) or JSON Lines on stdin / a file
(stream.py). Both hand the agent raw bytes, so decoding and its failure modes live in one place."""
