# A module that imports itself by its own name, in a folder without __init__.py.
import torch
from foo import foo_loss


def step(model, x):
    loss = foo_loss.compute(model(x))
    loss.backward()
