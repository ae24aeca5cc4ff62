"""Helpers shared by the tests: one of each (exposition parser, free port, wait with a deadline,
process stopper), so every test reads metrics, picks ports and waits the same way."""
