import torch

from helpers import evaluate


def evaluate(model, loader):
    """This definition shadows the import: it is the one `run` calls."""
    model.eval()
    with torch.no_grad():
        return [model(x) for x in loader]


def run(model, loader, optimizer, batch):
    evaluate(model, loader)
    loss = model(batch).sum()  # EVL102
    loss.backward()
    optimizer.step()
