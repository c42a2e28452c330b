"""The ``llara`` command line."""
