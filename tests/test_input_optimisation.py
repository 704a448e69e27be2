"""An optimizer that updates an input through a model evaluates that model, with gradients on
purpose (class visualisation, DeepDream): EVL101 applies to it, EVL201 does not. A model handed
to its own optimizer is trained, and a model the loop's optimizer never sees is not looked at."""

from __future__ import annotations

import pytest

from .conftest import expected_findings, found

CLASS_VISUALISATION = """
import torch
from torch.optim import SGD
from torchvision import models


class ClassVisualisation:
    def __init__(self, model, target):
        self.model = model
        self.target = target
{set_mode}

    def generate(self, image):
        for _ in range(100):
            optimizer = SGD([image], lr=6)
            output = self.model(image)  # {marker}
            loss = -output[0, self.target]
            self.model.zero_grad()
            loss.backward()
            optimizer.step()
        return image


if __name__ == "__main__":
    model = models.alexnet(weights="IMAGENET1K_V1")
    visualisation = ClassVisualisation(model, 130)
    visualisation.generate(torch.randn(1, 3, 224, 224, requires_grad=True))
"""


@pytest.mark.parametrize("set_mode, marker", [("        self.model.eval()", ""), ("        pass", "EVL101")],
                         ids=["eval", "no-eval"])
def test_an_optimizer_of_an_input_evaluates_the_model_it_looks_through(lint, set_mode, marker):
    source = CLASS_VISUALISATION.format(set_mode=set_mode, marker=marker).replace("  # \n", "\n").lstrip("\n")
    assert found(lint(source)) == expected_findings(source)


def test_a_model_handed_to_the_optimizer_is_trained_not_looked_through(lint):
    source = """
    import torch
    import torch.nn as nn


    def train(batches):
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """
    assert found(lint(source)) == set()


def test_an_optimizer_built_by_a_helper_is_no_input_optimisation(lint):
    # `configure_optimizers(...)` may hand over the model's parameters: nothing is looked through.
    source = """
    import torch.nn as nn


    def train(batches, configure_optimizers, lr):
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        optimizer = configure_optimizers(lr)
        for x, y in batches:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """
    assert found(lint(source)) == set()
