"""Shared by every domain: typed errors, paths, resources, units, logging, the tolerant JSON reader, Markdown."""
