import torch


def evaluate(model, loader):
    model.eval()
    with torch.no_grad:  # evaluation only
        for x in loader:
            out = model(x)
    return out
