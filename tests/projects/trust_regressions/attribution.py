"""Integrated gradients: the helper backpropagates to the input, called once per step by another
method; nothing in the file steps an optimizer, so no training step runs in eval mode."""
import torch


class IntegratedGradients:
    def __init__(self, model):
        self.model = model
        self.model.eval()

    def gradients(self, image, target):
        out = self.model(image)
        self.model.zero_grad()
        one_hot = torch.zeros_like(out)
        one_hot[0, target] = 1
        out.backward(gradient=one_hot)
        return image.grad

    def integrated(self, image, target, steps):
        return sum(self.gradients(image * s / steps, target) for s in range(steps))
