"""The saved model: the bundle on disk, assigning new customers, and drift."""
