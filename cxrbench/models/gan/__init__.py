"""GAN building blocks shared by `pggan-lco` and `cgan`: layers, networks, losses, training loop, LCO."""
