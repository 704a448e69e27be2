"""A model library's abstract base: it builds no layer (each subclass's create_layers() does) and
implements the project's own `Classifier.predict` interface. `self` in its predict() is one of
the subclasses, with Dropout; predict() runs it in whatever mode training left it."""
import torch
from torch import nn


class Classifier:
    def predict(self, batch):
        raise NotImplementedError


class ClassifierBase(nn.Module, Classifier):
    def create_layers(self, width):
        raise NotImplementedError

    def predict(self, batch):
        with torch.no_grad():
            return self(batch).softmax(-1)  # EVL101


class DropoutClassifier(ClassifierBase):
    def create_layers(self, width):
        self.hidden = nn.Linear(width, 16)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(16, 3)

    def forward(self, batch):
        return self.out(self.drop(self.hidden(batch).relu()))
