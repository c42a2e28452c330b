"""Sequential recommenders as item encoders: checkpoints, training, evaluation, baselines, import."""
