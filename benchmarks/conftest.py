"""Benchmarks reuse the tests' fixtures (tiny synthetic world, fake distributions)."""

from tests.conftest import llara_world  # noqa: F401
