"""Measured figures (not assertions): `make bench` prints a table and writes benchmarks/results.json."""
