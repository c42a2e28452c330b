"""The composed LLaRA model: backbone setup, tokens, prompt batching, embedding injection."""
