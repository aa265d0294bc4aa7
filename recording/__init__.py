"""Record topic windows to Avro container files and replay them (into an isolated prefix, or through detection)."""
