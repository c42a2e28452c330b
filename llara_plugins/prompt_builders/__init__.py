"""Built-in prompt builders."""
