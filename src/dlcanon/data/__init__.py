"""The data layer: embedded datasets, on-disk formats, an on-device loader and batched augmentation."""

from dlcanon.data import rotated, sources  # noqa: F401  (registers the embedded datasets in DATASETS)
from dlcanon.data.api import load_data
from dlcanon.data.augment import Augment
from dlcanon.data.base import DataBundle, Split
from dlcanon.data.formats import FORMATS
from dlcanon.data.loader import DeviceLoader
from dlcanon.data.sources import mixture_modes

__all__ = [
    "FORMATS",
    "Augment",
    "DataBundle",
    "DeviceLoader",
    "Split",
    "load_data",
    "mixture_modes",
    "sources",
]
