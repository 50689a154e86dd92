"""The data layer: embedded datasets, on-disk formats, an on-device loader and batched augmentation of inputs
with their targets (class labels, label maps, paired images, regression targets; images and volumes)."""

from dlcanon.data import (  # noqa: F401  (registers the embedded datasets in DATASETS)
    paired,
    rotated,
    segmentation,
    sources,
    super_resolution,
)
from dlcanon.data.api import load_data
from dlcanon.data.augment import Augment
from dlcanon.data.base import DataBundle, Split, Target
from dlcanon.data.formats import FORMATS
from dlcanon.data.loader import DeviceLoader, PairTransform
from dlcanon.data.sources import mixture_modes

__all__ = [
    "FORMATS",
    "Augment",
    "DataBundle",
    "DeviceLoader",
    "PairTransform",
    "Split",
    "Target",
    "load_data",
    "mixture_modes",
    "sources",
]
