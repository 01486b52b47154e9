"""Text-to-image diffusion on diffusers: pipeline directories, a local tokenizer, sampling, the small model."""
