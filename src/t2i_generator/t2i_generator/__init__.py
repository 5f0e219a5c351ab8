"""Edge stage: low-resolution text-to-image generation (SDXL via diffusers) that outputs the latent."""
