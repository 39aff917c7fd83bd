"""Discover: Hub search results and a model's page."""
