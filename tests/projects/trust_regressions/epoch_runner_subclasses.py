"""A base-class epoch runner: `Epoch.run` calls `self.on_epoch_start()` and `self.batch_update()`,
which a training and a validation subclass override. A training epoch takes the training
subclass's pair (train(), then steps), a validation epoch the validation one's (eval(), no_grad):
never the validation epoch's eval() followed by the training epoch's step."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.2), nn.Linear(8, 1))

    def forward(self, x):
        return self.body(x)


class Epoch:
    def __init__(self, model, loss):
        self.model = model
        self.loss = loss

    def on_epoch_start(self):
        pass

    def batch_update(self, x, y):
        raise NotImplementedError

    def run(self, loader):
        self.on_epoch_start()
        total = 0.0
        for x, y in loader:
            total += float(self.batch_update(x, y))
        return total


class TrainEpoch(Epoch):
    def __init__(self, model, loss, optimizer):
        super().__init__(model, loss)
        self.optimizer = optimizer

    def on_epoch_start(self):
        self.model.train()

    def batch_update(self, x, y):
        self.optimizer.zero_grad()
        loss = self.loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss


class ValidEpoch(Epoch):
    def on_epoch_start(self):
        self.model.eval()

    def batch_update(self, x, y):
        with torch.no_grad():
            return self.loss(self.model(x), y)


def fit(train_loader, valid_loader, epochs=3):
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_epoch = TrainEpoch(model, nn.MSELoss(), optimizer)
    valid_epoch = ValidEpoch(model, nn.MSELoss())
    for _ in range(epochs):
        train_epoch.run(train_loader)
        valid_epoch.run(valid_loader)
