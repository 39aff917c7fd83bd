"""Comparing models: the blind arena's tally, side-by-side scheduling."""
