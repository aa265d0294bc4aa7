"""Shared foundation: units, configuration, topics, Avro codec, Kafka client factory."""
