"""The Kafka the demo, the tests and the benchmarks run on: a local single-node Apache Kafka started from the
pinned, checksummed Maven Central jars (broker.py, dist.py, kafka_jars.lock.json), and one run's Kafka, local or
an external cluster under a run prefix of its own (run.py). Never used by the product: `arb execute`, `process`,
`produce`, `discover` and `positions` run against a Kafka the operator provides."""
