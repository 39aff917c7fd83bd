"""Saved chats: the SQLite store, opening and salvaging its file, export."""
