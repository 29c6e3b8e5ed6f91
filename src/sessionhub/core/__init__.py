"""Core: one module per capability, holding the rules; no HTTP, no SQL strings."""
