"""Built-in implementations of llara's slots, one per file.

Each is declared as an entry point in llara's pyproject.toml; llara_core finds them through
importlib.metadata like any third-party plugin and never imports this package directly.
"""
