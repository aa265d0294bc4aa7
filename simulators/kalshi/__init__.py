"""The Kalshi simulator: REST and WS on one aiohttp app (app.py), over the shared world (simulators/world.py)."""
