"""Edge stage: diffusion-based super-resolution of foreground patches."""
