"""A script trains its global `model` in module code, then calls helpers that read that global:
`translate()` predicts with it after training (autograd on, Dropout on), a true finding each.
A module that runs one mock forward in its own `__init__` (to build lazy layers) is not
evaluated by its construction, even though the instance is trained later."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.LazyLinear(2))
        self.forward(torch.randn(1, 4))  # builds the lazy layer

    def forward(self, x):
        return self.body(x)


def translate(word):
    scores = model(torch.randn(1, 4))  # EVL101, EVL201
    return f"{word} -> {scores.argmax().item()}"


def log_learning_rate(epoch):
    print(epoch, optimizer.param_groups[0]["lr"])


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
    log_learning_rate(epoch)
print(translate("man"))
