"""Edge stage: grids the latent, ranks cells by spatial variance, decodes and routes foreground/background patches."""
