"""The analysis: roles, quality, preparation, the sweep over algorithms and k, the choice, and
the profiles, validation, rules and themes that explain the segments."""
