"""Built-in backbone loaders and presets."""
