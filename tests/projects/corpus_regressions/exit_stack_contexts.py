"""Contexts entered through an ExitStack, as evaluation loops of detection libraries do (detectron2's
inference_on_dataset, called from the training loop of plain_train_net.py). When the stack's block
ends, what was entered on it is exited, last first: a context manager that restores the mode
restores it for the next training step, one that does not leaves the model in eval."""
from contextlib import ExitStack, contextmanager

import torch
from torch import nn


@contextmanager
def inference_context(model):
    training_mode = model.training
    model.eval()
    yield
    model.train(training_mode)


@contextmanager
def eval_for_good(model):
    model.eval()
    yield


def inference_on_dataset(model, data_loader):
    outputs = []
    with ExitStack() as stack:
        if isinstance(model, nn.Module):
            stack.enter_context(inference_context(model))
        stack.enter_context(torch.no_grad())
        for inputs in data_loader:
            outputs.append(model(inputs))
    return outputs


def evaluate_and_forget(model, loader):
    with ExitStack() as stack:
        stack.enter_context(eval_for_good(model))
        stack.enter_context(torch.no_grad())
        for inputs in loader:
            model(inputs)


def train(model, optimizer, loader, val_loader):
    model.train()
    for step, batch in enumerate(loader):
        loss = model(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            inference_on_dataset(model, val_loader)


def train_left_in_eval(model, optimizer, loader, val_loader):
    model.train()
    for step, batch in enumerate(loader):
        loss = model(batch)  # EVL102
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            evaluate_and_forget(model, val_loader)
