"""Hearth's one door to the private and low-level parts of the libraries it builds on, one
module per library, each pinned by a test of the installed version (tests/core/compat/)."""
