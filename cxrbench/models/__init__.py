"""Model adapters: the contract (adapter.py), the registry and the built-in generators and references."""

from cxrbench.registry import Registry

FLOOR_MODEL = "real-holdout"  # two disjoint real halves: every metric's real-vs-real value

MODELS: Registry = Registry("model", "cxrbench.models.adapter:ModelAdapter", "cxrbench.models")
MODELS.add_lazy(
    "pca-gaussian",
    "cxrbench.models.pca_gaussian:PcaGaussianAdapter",
    "probabilistic PCA per condition (a trained linear generative baseline)",
)
MODELS.add_lazy(
    "real-holdout",
    "cxrbench.models.real_holdout:RealHoldoutAdapter",
    "real held-out test images of the condition: the best any generator can do",
)
MODELS.add_lazy(
    "train-copy",
    "cxrbench.models.real_holdout:TrainCopyAdapter",
    "training images returned as they are: a perfect memoriser (memorisation must flag it)",
)
MODELS.add_lazy(
    "noise", "cxrbench.models.noise:NoiseAdapter", "seeded smooth noise at the mean real intensity: the worst case"
)
MODELS.add_lazy(
    "roentgen",
    "cxrbench.models.roentgen:RoentgenAdapter",
    "any Stable-Diffusion-1.x diffusers directory (RoentGen or your own), prompted per task; needs model_path",
)
MODELS.add_lazy(
    "diffusion-small",
    "cxrbench.models.diffusion_small:DiffusionSmallAdapter",
    "a small text-conditioned diffusion model trained here from scratch (diffusers, classifier-free guidance)",
)
MODELS.add_lazy(
    "pggan-lco",
    "cxrbench.models.pggan_lco:PgganLcoAdapter",
    "one unconditional PGGAN steered to each finding by latent class optimisation (Segal et al.)",
)
MODELS.add_lazy(
    "cgan",
    "cxrbench.models.cgan:ConditionalGanAdapter",
    "one conditional GAN over the finding labels (projection discriminator, R1, EMA; after Schuit et al.)",
)
