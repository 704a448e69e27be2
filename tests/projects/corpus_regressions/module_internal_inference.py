"""A detector's own inference method calls its submodules: whoever runs the detector sets its mode."""
from torch import nn


class Detector(nn.Module):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, images):
        if self.training:
            return self.head(self.backbone(images)).sum()
        return self.inference(images)

    def inference(self, images):
        features = self.backbone(images)
        return self.head(features)
