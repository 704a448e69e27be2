"""Two ways a class's attributes were misread.

A library whose layers are mode-free unless a keyword asks for dropout or normalisation
(torch_geometric.nn) also has helper functions: `to_hetero(net, metadata)` builds no layer of its
own, it runs the network it is given, so a network with Dropout stays one; the evaluation after
training without eval() is a finding.

A mode-free module that keeps hook tables in `OrderedDict()`s and reads them
(`self.hooks.values()`) holds no hidden submodule: a standard-library container is no module,
so evaluating it without eval() changes nothing (it runs under no_grad, so nothing at all)."""
from collections import OrderedDict

import torch
from torch import nn
from torch_geometric.nn import to_hetero


class Encoder(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lin = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.lin(x).relu())


def fit_hetero(metadata, loader, test_loader):
    model = to_hetero(Encoder(16), metadata)
    optimizer = torch.optim.Adam(model.parameters())
    model.train()
    for x, y in loader:
        loss = (model(x) - y).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    outputs = []
    with torch.no_grad():
        for x, _ in test_loader:
            outputs.append(model(x))  # EVL101
    return outputs


class Propagation(nn.Module):
    def __init__(self, nodes, dim):
        super().__init__()
        self.embedding = nn.Embedding(nodes, dim)
        self.pre_hooks = OrderedDict()

    def forward(self, index):
        for hook in self.pre_hooks.values():
            index = hook(index)
        return self.embedding(index)


def fit_propagation(loader, test_loader):
    model = Propagation(100, 8)
    optimizer = torch.optim.Adam(model.parameters())
    for index, y in loader:
        loss = (model(index) - y).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    outputs = []
    with torch.no_grad():
        for index, _ in test_loader:
            outputs.append(model(index))
    return outputs
