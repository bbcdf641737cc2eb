"""Services: the one place for queries and state changes. Routes stay thin and call these with
keyword arguments; services raise app.errors exceptions that carry their HTTP status."""
