"""A hand-written perceptron is a plain Python class: its `train()` is its own update loop and it
has no mode. An explainer's `forward()` hands the model's output to `__call__`, which
backpropagates it on purpose (gradient attribution): no evaluation with autograd on."""
import torch
import torch.nn as nn


class Perceptron:
    def __init__(self, n):
        self.w = torch.zeros(n, 1)
        self.b = torch.zeros(1)

    def forward(self, x):
        return (x @ self.w + self.b > 0).float()

    def train(self, x, y, epochs):
        for _ in range(epochs):
            err = y - self.forward(x).view(-1)
            self.w += (x.t() @ err).view(-1, 1)
            self.b += err.sum()

    def evaluate(self, x, y):
        return (self.forward(x).view(-1) == y).float().mean()


class Saliency:
    def __init__(self, model):
        self.model = model
        self.model.eval()

    def forward(self, x):
        return self.model(x)

    def __call__(self, x):
        x = x.requires_grad_(True)
        out = self.forward(x)
        out[0, out.argmax()].backward()
        return x.grad


perceptron = Perceptron(2)
perceptron.train(torch.randn(8, 2), torch.ones(8), 5)
print(perceptron.evaluate(torch.randn(8, 2), torch.ones(8)))
print(Saliency(nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.1)))(torch.randn(1, 4)))
