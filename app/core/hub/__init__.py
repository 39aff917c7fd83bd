"""The Hugging Face Hub: search, a repo's files, fit from the Hub, tokens."""
