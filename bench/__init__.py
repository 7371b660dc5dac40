"""Benchmarks run by ``make bench``; never part of the unit tests."""
