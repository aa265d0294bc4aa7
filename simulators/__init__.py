"""Local simulator of both venues: a shared world (books, accounts, order log, faults, clock) with
Kalshi and Polymarket servers on 127.0.0.1. Entry point: simulators.runner.Simulator / `arb sim`."""
