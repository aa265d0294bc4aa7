"""venues/kalshi."""
