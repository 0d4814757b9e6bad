"""Helpers for the tests and benchmarks (audits, repo helpers); not shipped."""
