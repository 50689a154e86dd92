"""dlcanon: an executable deep-learning curriculum on PyTorch."""

__version__ = "0.1.0"
