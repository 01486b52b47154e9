"""Metrics and the feature extractors they are computed in: contracts, registries, built-ins."""

from cxrbench.registry import Registry

FEATURE_EXTRACTORS: Registry = Registry(
    "feature extractor", "cxrbench.metrics.feature_extractor:FeatureExtractor", "cxrbench.feature_extractors"
)
FEATURE_EXTRACTORS.add_lazy("cxr-evaluator", "cxrbench.metrics.extractor_cxr_evaluator:CxrEvaluatorExtractor",
                            "compact CXR classifier trained on the real training split (no download)")
FEATURE_EXTRACTORS.add_lazy("inception-v3", "cxrbench.metrics.extractor_inception_v3:InceptionV3Extractor",
                            "FID Inception-v3 2048-d pool features via torch-fidelity (needs a local weights file)")
FEATURE_EXTRACTORS.add_lazy("pixels", "cxrbench.metrics.extractor_pixels:PixelsExtractor",
                            "downsampled standardised pixels and the images themselves (memorisation, diversity)")

METRICS: Registry = Registry("metric", "cxrbench.metrics.metric:Metric", "cxrbench.metrics")
METRICS.add_lazy("fid", "cxrbench.metrics.metric_frechet:FrechetInceptionDistance",
                 "Frechet distance of Inception-v3 pool features")
METRICS.add_lazy("cxr_fd", "cxrbench.metrics.metric_frechet:CxrFrechetDistance",
                 "Frechet distance of CXR-evaluator embeddings (a CXR-domain distance)")
METRICS.add_lazy("kid", "cxrbench.metrics.metric_kid:KernelInceptionDistance",
                 "kernel (MMD^2) distance of Inception-v3 pool features")
METRICS.add_lazy("cxr_kid", "cxrbench.metrics.metric_kid:CxrKernelDistance",
                 "kernel (MMD^2) distance of CXR-evaluator embeddings")
METRICS.add_lazy("precision", "cxrbench.metrics.metric_prdc:Precision",
                 "fraction of synthetic images inside the real manifold (k=3)")
METRICS.add_lazy("recall", "cxrbench.metrics.metric_prdc:Recall",
                 "fraction of real images inside the synthetic manifold (k=3)")
METRICS.add_lazy("density", "cxrbench.metrics.metric_prdc:Density",
                 "how many real neighbourhoods contain each synthetic image (k=5)")
METRICS.add_lazy("coverage", "cxrbench.metrics.metric_prdc:Coverage",
                 "fraction of real neighbourhoods that contain a synthetic image (k=5)")
METRICS.add_lazy("conditional_auroc", "cxrbench.metrics.metric_conditional_accuracy:ConditionalAuroc",
                 "evaluator AUROC separating a model's present set from its absent set")
METRICS.add_lazy("conditional_accuracy", "cxrbench.metrics.metric_conditional_accuracy:ConditionalAccuracy",
                 "fraction of images the evaluator assigns the intended condition")
METRICS.add_lazy("utility", "cxrbench.metrics.metric_utility:Utility",
                 "AUROC on real test images of a classifier trained on the synthetic images")
METRICS.add_lazy("utility_ratio", "cxrbench.metrics.metric_utility:UtilityRatio",
                 "train-on-synthetic AUROC over train-on-real AUROC")
METRICS.add_lazy("utility_augmented", "cxrbench.metrics.metric_utility:UtilityAugmented",
                 "AUROC of a classifier trained on real plus synthetic images")
METRICS.add_lazy("memorisation", "cxrbench.metrics.metric_memorisation:NearCopies",
                 "fraction of synthetic images that are near-copies of training images")
METRICS.add_lazy("dcr_ratio", "cxrbench.metrics.metric_memorisation:DcrRatio",
                 "median distance to the closest training image, synthetic over held-out real")
METRICS.add_lazy("diversity", "cxrbench.metrics.metric_diversity:Diversity",
                 "mean MS-SSIM within groups of 4 samples (lower: more diverse)")
