"""Probing a backbone's output shape: switch to eval only if it was training, then restore."""
import torch


def infer_feature_size(backbone, size):
    with torch.no_grad():
        training = backbone.training
        if training:
            backbone.eval()
        out = backbone(torch.zeros(1, 3, size, size))
        backbone.train(training)
    return out.shape[-2:]
