"""Downloads: the manager, its rows and the panel."""
