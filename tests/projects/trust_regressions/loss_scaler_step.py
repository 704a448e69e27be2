"""A library-style loss scaler does the backward and the step (timm, Swin): the step's forward is a
training forward, and the scaler, which has a state_dict like any optimizer, is no model."""
import torch


class NativeScaler:
    state_dict_key = "amp_scaler"

    def __init__(self):
        self._scaler = torch.cuda.amp.GradScaler()

    def __call__(self, loss, optimizer, parameters=None):
        self._scaler.scale(loss).backward()
        self._scaler.step(optimizer)
        self._scaler.update()

    def state_dict(self):
        return self._scaler.state_dict()

    def load_state_dict(self, state):
        self._scaler.load_state_dict(state)


def train_one_epoch(model, criterion, loader, optimizer, loss_scaler):
    model.train()
    for samples, targets in loader:
        outputs = model(samples)
        loss = criterion(outputs, targets)
        loss_scaler(loss, optimizer, parameters=model.parameters())


def main(model, criterion, loader, optimizer, checkpoint):
    loss_scaler = NativeScaler()
    model.load_state_dict(checkpoint["model"])
    loss_scaler.load_state_dict(checkpoint["scaler"])
    for epoch in range(3):
        train_one_epoch(model, criterion, loader, optimizer, loss_scaler)
