"""FRDv1's published radiomics settings, in one place, with where each was read.

Sources (public repository RichardObi/frd-score): ``frd_v1/configs/2D_extraction.yaml`` and its
packaged copy ``src/frd_score/configs/extraction_2d.yaml`` (the pyradiomics parameter file of
Konz, Osuala et al., arXiv 2412.01496), ``frd_v1/src/radiomics_utils.py`` (whole-image mask,
z-scoring against the first set, NaN/inf columns dropped) and ``frd_v1/compute_frd.py``
(FRD = log of the Frechet distance). The feature definitions are pyradiomics' (AIM-Harvard/
pyradiomics, ``radiomics/{firstorder,glcm,glrlm,glszm,ngtdm,imageoperations}.py``), which follow
IBSI with the differences pyradiomics documents (kurtosis not excess, bins from 0, floor binning).
"""

from __future__ import annotations

# setting: normalize / normalizeScale: each image z-scored over all its pixels, times 100.
NORMALIZE_SCALE = 100.0
# setting: resampledPixelSpacing [2, 2, 0] with interpolator sitkBSpline; PNG pixels read as 1 mm,
# so every image is resampled to half its size by cubic B-spline interpolation.
RESAMPLE_FACTOR = 2
# setting: binWidth 5 (fixed bin width, on the normalised x100 intensities of every image type).
BIN_WIDTH = 5.0
# setting: voxelArrayShift 300 (added to intensities in first-order Energy, TotalEnergy, RMS).
VOXEL_ARRAY_SHIFT = 300.0
# imageType: LoG sigma [2.0, 3.0, 4.0, 5.0] mm; Wavelet with pyradiomics' defaults
# (coif1, one level, start level 0); force2D: in-plane filters and texture neighbourhoods.
LOG_SIGMAS_MM = (2.0, 3.0, 4.0, 5.0)
WAVELET = "coif1"

# featureClass: firstorder (all default features), glcm (the 22 listed), glrlm, glszm, ngtdm (all).
FIRST_ORDER = (
    "Energy",
    "TotalEnergy",
    "Entropy",
    "Minimum",
    "10Percentile",
    "90Percentile",
    "Maximum",
    "Mean",
    "Median",
    "InterquartileRange",
    "Range",
    "MeanAbsoluteDeviation",
    "RobustMeanAbsoluteDeviation",
    "RootMeanSquared",
    "Skewness",
    "Kurtosis",
    "Variance",
    "Uniformity",
)
GLCM = (
    "Autocorrelation",
    "JointAverage",
    "ClusterProminence",
    "ClusterShade",
    "ClusterTendency",
    "Contrast",
    "Correlation",
    "DifferenceAverage",
    "DifferenceEntropy",
    "DifferenceVariance",
    "JointEnergy",
    "JointEntropy",
    "Imc1",
    "Imc2",
    "Idm",
    "Idmn",
    "Id",
    "Idn",
    "InverseVariance",
    "MaximumProbability",
    "SumEntropy",
    "SumSquares",
)
GLRLM = (
    "ShortRunEmphasis",
    "LongRunEmphasis",
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "RunLengthNonUniformity",
    "RunLengthNonUniformityNormalized",
    "RunPercentage",
    "GrayLevelVariance",
    "RunVariance",
    "RunEntropy",
    "LowGrayLevelRunEmphasis",
    "HighGrayLevelRunEmphasis",
    "ShortRunLowGrayLevelEmphasis",
    "ShortRunHighGrayLevelEmphasis",
    "LongRunLowGrayLevelEmphasis",
    "LongRunHighGrayLevelEmphasis",
)
GLSZM = (
    "SmallAreaEmphasis",
    "LargeAreaEmphasis",
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "SizeZoneNonUniformity",
    "SizeZoneNonUniformityNormalized",
    "ZonePercentage",
    "GrayLevelVariance",
    "ZoneVariance",
    "ZoneEntropy",
    "LowGrayLevelZoneEmphasis",
    "HighGrayLevelZoneEmphasis",
    "SmallAreaLowGrayLevelEmphasis",
    "SmallAreaHighGrayLevelEmphasis",
    "LargeAreaLowGrayLevelEmphasis",
    "LargeAreaHighGrayLevelEmphasis",
)
NGTDM = ("Coarseness", "Contrast", "Busyness", "Complexity", "Strength")
FAMILIES = {"firstorder": FIRST_ORDER, "glcm": GLCM, "glrlm": GLRLM, "glszm": GLSZM, "ngtdm": NGTDM}

# pyradiomics' epsilon in every log and denominator guard (numpy.spacing(1)).
EPS = 2.220446049250313e-16
