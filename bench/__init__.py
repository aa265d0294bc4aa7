"""Benchmarks (`arb bench ...`). One module per benchmark; `_stats.py` holds the shared summary helpers."""
