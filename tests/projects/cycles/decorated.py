# Decorators that name themselves, aliases that point at each other, functions that call each other.
import torch

from decorated import evaluate as evaluate_again


def repeat(function):
    return repeat(function)


@repeat
@evaluate_again
def evaluate(model, loader):
    for x in loader:
        model(x)  # EVL101, EVL201


def ping(model, x):
    return pong(model, x)


def pong(model, x):
    return ping(model, x)


def aliases(model, x):
    first = model
    second = first
    first = second
    model = first
    second.eval()
    return model(x)  # EVL201


no_grad = torch.no_grad
torch.no_grad = no_grad
