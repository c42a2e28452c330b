"""Evaluation shared by sequential recommenders and LLMs: ranks, metrics, intervals."""
