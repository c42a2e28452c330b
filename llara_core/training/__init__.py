"""Training LLaRA on Lightning Fabric: data order, curriculum, schedule, checkpoints, logs."""
