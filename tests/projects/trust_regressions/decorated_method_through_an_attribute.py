"""A model's own `@torch.no_grad()` method reached through an attribute from another method
(`self.model.encode(...)` in a dataset builder's helper, as pyg's builders do): autograd is off
inside it."""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2))

    def forward(self, x):
        return self.backbone(x)

    @torch.no_grad()
    def encode(self, x):
        return self.backbone(x)


class NodeFeatures:
    def process(self, weights):
        self.model = Encoder()
        self.model.load_state_dict(weights)
        self.model.eval()
        self.nodes = self._encode_nodes()

    def _encode_nodes(self):
        return self.model.encode(torch.randn(16, 4))
