"""An embedding helper that handles a batch and a single input on the two arms of an `if`: each
arm is its own evaluation, and each forward without no_grad is reported. Two forwards on one
path are one evaluation, reported once; the helper under no_grad stays quiet."""
import torch
import torch.nn as nn


class Embedder:
    def __init__(self):
        self.net = nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4))
        self.net.load_state_dict(torch.load("embedder.pt"))
        self.net.eval()

    def embed(self, inputs):
        if isinstance(inputs, list):
            batch = torch.stack(inputs)
            return self.net(batch).numpy()  # EVL201
        else:
            single = inputs.unsqueeze(0)
            return self.net(single).numpy()[0]  # EVL201

    def embed_twice(self, inputs, flip):
        first = self.net(inputs).numpy()  # EVL201
        if flip:
            inputs = inputs.flip(0)
        second = self.net(inputs).numpy()
        return first, second

    @torch.no_grad()
    def embed_quietly(self, inputs):
        if isinstance(inputs, list):
            return self.net(torch.stack(inputs)).numpy()
        return self.net(inputs.unsqueeze(0)).numpy()[0]


embedder = Embedder()
print(embedder.embed([torch.randn(8), torch.randn(8)]), embedder.embed(torch.randn(8)))
print(embedder.embed_twice(torch.randn(2, 8), True), embedder.embed_quietly(torch.randn(8)))
