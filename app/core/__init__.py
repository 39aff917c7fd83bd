"""Plain-Python core of Hearth. Nothing in this package imports Qt."""
