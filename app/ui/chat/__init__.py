"""The Chat page and its parts."""
