"""A library model built with its pretrained weights is worth evaluating, and starts in train
mode like every new module (unlike `from_pretrained`, which returns it in eval mode): a forward
whose output reaches no backward evaluates it, however the constructor is reached."""

from __future__ import annotations

import pytest

from .conftest import expected_findings, found

PRETRAINED = [
    "model = models.resnet18(pretrained=True)",
    "model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT).to(device)",
    "model = models.__dict__[arch](pretrained=True).to(device=device)",
    "model = timm.create_model(arch, pretrained=True).cuda()",
    "model = pretrainedmodels.__dict__[arch](num_classes=1000, pretrained='imagenet')",
]

SCRIPT = """
import timm
import torch
import pretrainedmodels
import torchvision.models as models

device, arch = "cpu", "resnet18"
{build}
image = torch.randn(1, 3, 224, 224)
scores = model(image)  # EVL101, EVL201
print("predicted", scores.argmax().item())
"""


@pytest.mark.parametrize("build", PRETRAINED)
def test_a_pretrained_library_model_is_evaluated_where_its_output_reaches_no_backward(lint, build):
    source = SCRIPT.format(build=build).lstrip("\n")
    assert found(lint(source)) == expected_findings(source)


@pytest.mark.parametrize("build", ["model = models.resnet18(pretrained=False)", "model = models.resnet18(weights=None)",
                                   "model = models.resnet18()"])
def test_a_model_built_without_weights_only_probes_shapes(lint, build):
    assert found(lint(SCRIPT.format(build=build))) == set()


def test_a_pretrained_model_trained_after_loading_is_trained_not_evaluated(lint):
    source = """
    import torch
    import torchvision.models as models

    model = models.resnet18(pretrained=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for image, label in [(torch.randn(2, 3, 224, 224), torch.tensor([1, 2]))]:
        loss = torch.nn.functional.cross_entropy(model(image), label)
        loss.backward()
        optimizer.step()
    """
    assert found(lint(source)) == set()
