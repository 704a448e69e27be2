"""A project's own `get_model(name, hidden)` builds a model; only `get_model(model)`, one model
handed in, unwraps one. The net this factory returns has no mode-dependent layer, so its
evaluation without eval() is no finding (and under no_grad, no EVL201 either)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.body(x)


def get_model(name, hidden):
    if name == "net":
        return Net(hidden)
    raise ValueError(name)


def main(model_name):
    model = get_model(model_name, 8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model.train()
        loss = nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 2, (8,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            scores = model(torch.randn(8, 4))
        print(scores.argmax(1))


main("net")
