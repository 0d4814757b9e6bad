"""`make demo`: the whole story on a copy of sample_repo/, with real git and hooks."""
