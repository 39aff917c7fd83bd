"""The local API server's panel."""
