"""Human-readable renderings of an analysis (the plain-text summary; the memo comes later)."""
