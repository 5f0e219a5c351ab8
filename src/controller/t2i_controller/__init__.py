"""Edge stage: per-request choice of SR scale, denoising steps and foreground ratio under latency, capacity and bandwidth."""
