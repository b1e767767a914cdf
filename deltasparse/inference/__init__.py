"""Running trained video models on videos (the annotated demo video)."""
