"""A model built and trained by a project function and returned (`model = train(...)`), then run
through its own `@torch.no_grad()` `inference()` in a helper: the helper's call resolves to that
method (the factory's class is known to its caller), so autograd is off. A class whose
`inference()` has no `no_grad` still builds a graph."""
import os

import torch
import torch.nn as nn


class Reader(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.2), nn.Linear(8, 2))

    def forward(self, x):
        return self.net(x)

    @torch.no_grad()
    def inference(self, x):
        self.eval()
        return self(x).argmax(-1)


class PlainReader(Reader):
    def inference(self, x):
        self.eval()
        return self(x).argmax(-1)


def load_params(model, path):
    model.load_state_dict(torch.load(path))
    return model


def train(loader, checkpoint):
    model = Reader()
    if os.path.exists(checkpoint):
        model = load_params(model, checkpoint)
    else:
        optimizer = torch.optim.Adam(model.parameters())
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def train_plain(loader):
    model = PlainReader()
    optimizer = torch.optim.Adam(model.parameters())
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model


def inference_step(model, batch):
    return model.inference(batch)


def plain_inference_step(model, batch):
    return model.inference(batch)  # EVL201


def test(model, loader):
    return [inference_step(model, x) for x, _ in loader]


def test_plain(model, loader):
    return [plain_inference_step(model, x) for x, _ in loader]


if __name__ == "__main__":
    data = [(torch.randn(4, 8), torch.randint(0, 2, (4,))) for _ in range(3)]
    print(test(train(data, "reader.pt"), data))
    print(test_plain(train_plain(data), data))
