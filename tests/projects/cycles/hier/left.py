# Class hierarchies that loop: across two files, and a class named after the base it imports.
import torch.nn as nn

from hier.right import Right
from hier.left import Net


class Left(Right):
    def forward(self, x):
        return self.head(x)


class Net(Net):
    def predict(self, x):
        return self.forward(x)
