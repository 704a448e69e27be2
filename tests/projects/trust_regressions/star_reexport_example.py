"""A package that re-exports its helpers with `from .recorders import *`: the helper the script
imports from the package is read, so the pretrained model it is given stays in train mode."""

import torch
from torchvision import models

from star_pkg import ActivationRecorder


def main():
    model = models.resnet18(pretrained=True)
    recorder = ActivationRecorder(model, "layer4")
    with torch.no_grad():
        scores = model(torch.rand(1, 3, 224, 224))  # EVL101
    recorder.remove()
    print(len(recorder.activations), scores.argmax().item())


if __name__ == "__main__":
    main()
