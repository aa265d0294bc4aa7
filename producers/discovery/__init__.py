"""Market discovery: find the same game at Kalshi and Polymarket and publish MarketPairing records."""
