import torch


def validate(model, loader):
    # the mode switch below is a no-op without the call
    model.eval()  # keep this comment
    with torch.no_grad():
        return [model(x) for x in loader]
