"""Built-in curriculum schedulers."""
