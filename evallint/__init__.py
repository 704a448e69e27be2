"""evallint: find train/eval-mode and autograd-mode bugs in PyTorch training code."""

__version__ = "0.1.0"
