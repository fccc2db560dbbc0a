"""Helpers the test suite and `make test` share: throw-away databases, the two-engine run."""
