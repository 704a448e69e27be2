"""`super(Net, self).__init__()` (old-style, in most tutorials) leaves the new module's mode as it
is: the evaluation below runs it in train mode. A hub entry point may wrap and switch its model,
so a `torch.hub.load` model's mode stays unknown; an EMA copy's sampling forward trains nothing."""
import copy

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))


def main(loader, held_out):
    net = Net()
    ema = copy.deepcopy(net).eval()
    preview = ema(torch.randn(2, 4))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), net.parameters()):
                p_ema.copy_(p.lerp(p_ema, 0.99))
    with torch.no_grad():
        for x, y in held_out:
            print((net(x).argmax(1) == y).float().mean())  # EVL101
    return preview


detector = torch.hub.load("someorg/detectors", "small")
results = detector("image.jpg")


class Tagger(nn.Module):
    """A model's own `predict()` runs in whatever mode training left it: it must call eval()."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))

    def predict(self, x):
        with torch.no_grad():
            return self(x).argmax(1)  # EVL101

    def predict_proba(self, x):
        self.eval()
        with torch.no_grad():
            return self.forward(x).softmax(1)
