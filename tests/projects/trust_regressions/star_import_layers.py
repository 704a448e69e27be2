"""Layers that another module re-exports with `from star_import_layers import *`."""

import torch.nn as nn


class DropoutBlock(nn.Module):
    def __init__(self, size, pdrop):
        super().__init__()
        self.proj = nn.Linear(size, size)
        self.drop = nn.Dropout(pdrop)

    def forward(self, x):
        return self.drop(self.proj(x))
