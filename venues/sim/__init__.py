"""venues/sim."""
