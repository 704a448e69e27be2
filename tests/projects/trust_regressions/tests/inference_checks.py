"""A project's own test: it loads a model and checks that inference gives outputs of the right
shape. A test runs code to check it; it measures nothing, so train mode is no wrong metric here."""
import torch
from torch import nn


def build():
    return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 2))


def check_inference_correctness(model, inputs):
    with torch.no_grad():
        return model(inputs)


def test_inference_shapes(tmp_path):
    model = build()
    model.load_state_dict(build().state_dict())
    assert check_inference_correctness(model, torch.randn(3, 4)).shape == (3, 2)
