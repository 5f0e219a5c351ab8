"""Device stage: lightweight Real-ESRGAN super-resolution of background patches."""
