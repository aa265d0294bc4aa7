"""`arb demo`: the whole pipeline against the simulators, as separate processes like production."""
