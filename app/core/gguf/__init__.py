"""GGUF files: the header reader, the one check every load goes through, the value ranges."""
