"""lectern."""
