"""Metrics and the feature extractors they are computed in: contracts, registries, built-ins."""

from cxrbench.registry import Registry

FEATURE_EXTRACTORS: Registry = Registry(
    "feature extractor", "cxrbench.metrics.feature_extractor:FeatureExtractor", "cxrbench.feature_extractors"
)
FEATURE_EXTRACTORS.add_lazy(
    "cxr-evaluator",
    "cxrbench.metrics.extractor_cxr_evaluator:CxrEvaluatorExtractor",
    "compact CXR classifier trained on the real training split (no download)",
)
FEATURE_EXTRACTORS.add_lazy(
    "inception-v3",
    "cxrbench.metrics.extractor_inception_v3:InceptionV3Extractor",
    "FID Inception-v3 2048-d pool features via torch-fidelity (needs a local weights file)",
)
FEATURE_EXTRACTORS.add_lazy(
    "xrv-densenet",
    "cxrbench.metrics.extractor_xrv_densenet:XrvDenseNetExtractor",
    "torchxrayvision DenseNet-121 1024-d features, RoentGen's XRV-FID protocol (local weights)",
)
FEATURE_EXTRACTORS.add_lazy(
    "pixels",
    "cxrbench.metrics.extractor_pixels:PixelsExtractor",
    "downsampled standardised pixels and the images themselves (memorisation, diversity)",
)
FEATURE_EXTRACTORS.add_lazy(
    "rad-dino",
    "cxrbench.metrics.extractor_rad_dino:RadDinoExtractor",
    "RAD-DINO CLS 768-d as CheXGenBench computes it (needs a local microsoft/rad-dino copy)",
)
FEATURE_EXTRACTORS.add_lazy(
    "dinov2",
    "cxrbench.metrics.extractor_dinov2:Dinov2Extractor",
    "DINOv2 ViT-L/14 CLS 1024-d as dgm-eval computes it (needs a local facebook/dinov2-large)",
)
FEATURE_EXTRACTORS.add_lazy(
    "clip",
    "cxrbench.metrics.extractor_clip:ClipExtractor",
    "CLIP ViT-L/14@336 unit image embeddings, CMMD's space (needs a local copy of the weights)",
)
FEATURE_EXTRACTORS.add_lazy(
    "radiomics",
    "cxrbench.metrics.extractor_radiomics:RadiomicsExtractor",
    "FRDv1's 693 radiomic features (pyradiomics definitions), no weights",
)

METRICS: Registry = Registry("metric", "cxrbench.metrics.metric:Metric", "cxrbench.metrics")
# Distribution metrics of any feature space (``fd@rad-dino``); ``fid``, ``cxr_fd`` and ``cxr_kid``
# are aliases of fd and kid in one space (cxrbench/metric_ids.py).
METRICS.add_lazy(
    "fd",
    "cxrbench.metrics.metric_frechet:FrechetDistance",
    "Frechet distance of a feature space's features (default inception-v3: FID)",
)
METRICS.add_lazy(
    "fd_inf",
    "cxrbench.metrics.metric_fd_inf:FrechetDistanceInfinity",
    "FD extrapolated to infinite n from 15 subset sizes (default cxr-evaluator)",
)
METRICS.add_lazy(
    "kid",
    "cxrbench.metrics.metric_kid:KernelDistance",
    "kernel (MMD^2, cubic kernel) distance of a feature space's features (default inception-v3: KID)",
)
METRICS.add_lazy(
    "cmmd",
    "cxrbench.metrics.metric_cmmd:Cmmd",
    "MMD^2 x 1000 with a Gaussian RBF kernel, sigma 10 (default clip: CMMD)",
)
METRICS.add_lazy(
    "frd",
    "cxrbench.metrics.metric_frd:FrechetRadiomicDistance",
    "log Frechet distance of features z-scored against the real set (default radiomics: FRDv1)",
)
METRICS.add_lazy(
    "precision", "cxrbench.metrics.metric_prdc:Precision", "fraction of synthetic images inside the real manifold (k=3)"
)
METRICS.add_lazy(
    "recall", "cxrbench.metrics.metric_prdc:Recall", "fraction of real images inside the synthetic manifold (k=3)"
)
METRICS.add_lazy(
    "density", "cxrbench.metrics.metric_prdc:Density", "how many real neighbourhoods contain each synthetic image (k=5)"
)
METRICS.add_lazy(
    "coverage",
    "cxrbench.metrics.metric_prdc:Coverage",
    "fraction of real neighbourhoods that contain a synthetic image (k=5)",
)
METRICS.add_lazy(
    "conditional_auroc",
    "cxrbench.metrics.metric_conditional_accuracy:ConditionalAuroc",
    "evaluator AUROC separating a model's present set from its absent set",
)
METRICS.add_lazy(
    "conditional_accuracy",
    "cxrbench.metrics.metric_conditional_accuracy:ConditionalAccuracy",
    "fraction of images the evaluator assigns the intended condition",
)
METRICS.add_lazy(
    "utility",
    "cxrbench.metrics.metric_utility:Utility",
    "AUROC on real test images of a classifier trained on the synthetic images",
)
METRICS.add_lazy(
    "utility_ratio", "cxrbench.metrics.metric_utility:UtilityRatio", "train-on-synthetic AUROC over train-on-real AUROC"
)
METRICS.add_lazy(
    "utility_augmented",
    "cxrbench.metrics.metric_utility:UtilityAugmented",
    "AUROC of a classifier trained on real plus synthetic images",
)
METRICS.add_lazy(
    "memorisation",
    "cxrbench.metrics.metric_memorisation:NearCopies",
    "fraction of synthetic images that are near-copies of training images",
)
METRICS.add_lazy(
    "dcr_ratio",
    "cxrbench.metrics.metric_memorisation:DcrRatio",
    "median distance to the closest training image, synthetic over held-out real",
)
METRICS.add_lazy(
    "diversity",
    "cxrbench.metrics.metric_diversity:Diversity",
    "mean MS-SSIM within groups of 4 samples (lower: more diverse)",
)
