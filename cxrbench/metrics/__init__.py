"""Metrics and the feature extractors they are computed in: contracts, registries, built-ins."""

from cxrbench.registry import Registry

FEATURE_EXTRACTORS: Registry = Registry(
    "feature extractor", "cxrbench.metrics.feature_extractor:FeatureExtractor", "cxrbench.feature_extractors"
)
FEATURE_EXTRACTORS.add_lazy("cxr-evaluator", "cxrbench.metrics.extractor_cxr_evaluator:CxrEvaluatorExtractor",
                            "compact CXR classifier trained on the real training split (no download)")
FEATURE_EXTRACTORS.add_lazy("inception-v3", "cxrbench.metrics.extractor_inception_v3:InceptionV3Extractor",
                            "FID Inception-v3 2048-d pool features via torch-fidelity (needs a local weights file)")

METRICS: Registry = Registry("metric", "cxrbench.metrics.metric:Metric", "cxrbench.metrics")
METRICS.add_lazy("fid", "cxrbench.metrics.metric_frechet:FrechetInceptionDistance",
                 "Frechet distance of Inception-v3 pool features")
METRICS.add_lazy("cxr_fd", "cxrbench.metrics.metric_frechet:CxrFrechetDistance",
                 "Frechet distance of CXR-evaluator embeddings (a CXR-domain distance)")
METRICS.add_lazy("conditional_accuracy", "cxrbench.metrics.metric_conditional_accuracy:ConditionalAccuracy",
                 "fraction of images the evaluator assigns the intended condition")
