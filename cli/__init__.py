"""The `arb` command: the single entry point for every role."""
