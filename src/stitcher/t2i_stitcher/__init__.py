"""Device stage: collects upscaled patches, colour-matches and blends them into the final image."""
