"""Optimising an input (style transfer, feature visualisation) through a network kept in eval
mode trains the input, not the network: no EVL102 for the frozen network."""
import torch
import torchvision


def visualise(model, target_class):
    model.eval()
    image = torch.randn(1, 3, 224, 224, requires_grad=True)
    optimizer = torch.optim.SGD([image], lr=0.1)
    for _ in range(50):
        optimizer.zero_grad()
        loss = -model(image)[0, target_class]
        loss.backward()
        optimizer.step()
    return image


def project(vgg16, generator, target, steps):
    vgg16.eval()
    w = torch.zeros(1, 512, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.1)
    for _ in range(steps):
        loss = (vgg16(generator(w)) - target).square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


visualise(torchvision.models.vgg16(), 3)
