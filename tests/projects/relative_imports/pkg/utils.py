import torch


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        outputs = [model(x) for x in loader]
    model.train()
    return outputs
