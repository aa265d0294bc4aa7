"""venues/polymarket."""
