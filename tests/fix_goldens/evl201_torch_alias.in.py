import torch as T


def run_test(model, loader):
    model.eval()
    return [model(x) for x in loader]
