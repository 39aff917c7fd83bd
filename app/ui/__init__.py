"""Qt front end of Hearth: widgets, item models and workers. Calls app.core; never the reverse."""
