"""Benchmark harness of the token service (`make bench`, `make bench-growth`); see bench/README.md."""
