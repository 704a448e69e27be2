"""An ensemble kept in a Python list: iterating the list, or a slice of it, gives its items.
Items that are all Linear and activation stacks have no mode to forget; one with Dropout
does, and so does a list that a helper may fill with anything."""
import torch
import torch.nn as nn


def fit_one(net, xs, ys):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(10):
        nn.functional.mse_loss(net(xs), ys).backward()
        opt.step()


def curves(nets, xs):
    outs = []
    for net in nets:
        with torch.no_grad():
            outs.append(net(xs))
    return outs


def plain_ensemble(xs, ys):
    nets = []
    for k in range(6):
        net = nn.Sequential(nn.Linear(1, 32), nn.ReLU() if k % 2 else nn.Tanh(), nn.Linear(32, 1))
        fit_one(net, xs, ys)
        nets.append(net)
    first = nets[:3]
    rest = nets[3:]
    return curves(first, xs), curves(rest, xs)


def literal_pair(xs, ys):
    pair = [nn.Linear(1, 1), nn.Sequential(nn.Linear(1, 4), nn.Sigmoid(), nn.Linear(4, 1))]
    for net in pair:
        fit_one(net, xs, ys)
    with torch.no_grad():
        for net in pair:
            print(net(xs))


def dropout_ensemble(xs, ys):
    nets = []
    for _ in range(4):
        net = nn.Sequential(nn.Linear(1, 32), nn.Dropout(0.3), nn.Linear(32, 1))
        fit_one(net, xs, ys)
        nets.append(net)
    return curves_with_dropout(nets[:2], xs)


def curves_with_dropout(nets, xs):
    outs = []
    for net in nets:
        with torch.no_grad():
            outs.append(net(xs))  # EVL101
    return outs


def add_regularised(nets):
    nets.append(nn.Sequential(nn.Linear(1, 8), nn.BatchNorm1d(8), nn.Linear(8, 1)))


def filled_by_helper(xs, ys):
    nets = [nn.Linear(1, 1)]
    add_regularised(nets)
    for net in nets:
        fit_one(net, xs, ys)
    with torch.no_grad():
        for net in nets:
            print(net(xs))  # EVL101


def stored_then_extended(xs, ys, registry):
    nets = [nn.Linear(1, 1)]
    registry.models = nets
    registry.grow()
    for net in nets:
        fit_one(net, xs, ys)
    with torch.no_grad():
        for net in nets:
            print(net(xs))  # EVL101
