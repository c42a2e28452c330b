"""llara's benchmark suite (``pytest benchmarks --benchmark-only``) and its helpers.

A package so that its test modules (``benchmarks.test_scoring``, ...) never clash with the test
suite's modules of the same base name when both folders are collected together.
"""
