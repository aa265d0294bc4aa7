"""The Polymarket simulator: CLOB REST, Gamma, Data API and market WS (app.py), over the shared world."""
