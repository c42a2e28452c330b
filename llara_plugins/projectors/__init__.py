"""Built-in projectors."""
