import torch
from torch.optim import SGD
from torchvision import models


def visualise(model, target):
    image = torch.rand(1, 3, 224, 224, requires_grad=True)
    optimizer = SGD([image], lr=1.0)
    model.eval()
    for _ in range(50):
        loss = -model(image)[0, target]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return image.detach()


visualise(models.alexnet(weights="IMAGENET1K_V1"), 130)
