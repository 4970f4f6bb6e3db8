"""What every layer shares: the user-facing errors and the frozen base of typed results."""
