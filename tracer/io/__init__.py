"""Readers: one module per source format, each returning canonical tables."""
