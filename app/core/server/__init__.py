"""The OpenAI-compatible local API server."""
