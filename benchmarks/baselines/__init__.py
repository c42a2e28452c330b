"""Implementations llara is measured against: its own earlier designs and reference-style code."""
