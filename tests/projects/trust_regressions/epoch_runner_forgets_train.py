"""The same base-class epoch runner, but the training subclass validates at the end of each epoch
(eval()) and never calls train() at the start of the next: from the second epoch on it trains
in eval mode."""
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

    def on_epoch_end(self):
        pass

    def batch_update(self, x, y):
        raise NotImplementedError

    def run(self, loader):
        self.on_epoch_start()
        for x, y in loader:
            self.batch_update(x, y)
        self.on_epoch_end()


class TrainEpoch(Epoch):
    def __init__(self, model, loss, optimizer, valid_loader):
        super().__init__(model, loss)
        self.optimizer = optimizer
        self.valid_loader = valid_loader

    def batch_update(self, x, y):
        self.optimizer.zero_grad()
        loss = self.loss(self.model(x), y)  # EVL102
        loss.backward()
        self.optimizer.step()

    def on_epoch_end(self):
        self.model.eval()
        with torch.no_grad():
            for x, y in self.valid_loader:
                print(float(self.loss(self.model(x), y)))


class ValidEpoch(Epoch):
    def on_epoch_start(self):
        self.model.eval()

    def batch_update(self, x, y):
        with torch.no_grad():
            print(float(self.loss(self.model(x), y)))


def fit(train_loader, valid_loader, epochs=3):
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_epoch = TrainEpoch(model, nn.MSELoss(), optimizer, valid_loader)
    for _ in range(epochs):
        train_epoch.run(train_loader)
