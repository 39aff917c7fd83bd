"""SQLite helpers shared by the stores, and opening them all at start."""
