"""Small helpers every page uses: questions to the user, background tasks."""
