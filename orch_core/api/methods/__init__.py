"""Registry methods, one module per area; each only validates, calls and shapes."""
