"""Built-in item encoders (sequential recommenders)."""
