"""Grad contexts entered through an ExitStack, as evaluation loops of detection libraries do."""
from contextlib import ExitStack, contextmanager

import torch
from torch import nn


@contextmanager
def inference_context(model):
    training_mode = model.training
    model.eval()
    yield
    model.train(training_mode)


def inference_on_dataset(model, data_loader):
    outputs = []
    with ExitStack() as stack:
        if isinstance(model, nn.Module):
            stack.enter_context(inference_context(model))
        stack.enter_context(torch.no_grad())
        for inputs in data_loader:
            outputs.append(model(inputs))
    return outputs
