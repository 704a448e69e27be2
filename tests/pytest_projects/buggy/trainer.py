import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))


def make_batches(n, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=generator)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return list(zip(x.split(16), y.split(16)))


def train_one_epoch(model, batches, optimizer):
    model.train()
    total = 0.0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(batches)


def validate(model, batches):
    correct = 0
    for x, y in batches:
        correct += (model(x).argmax(dim=1) == y).sum().item()
    return correct / sum(len(y) for _, y in batches)


class Checkpointer:
    """Scores the model after each epoch; `after` names the mode to restore (a typo falls back to eval)."""

    def __init__(self, batches, after="train"):
        self.batches = batches
        self.after = after

    def switch(self, model, name):
        getattr(model, name if hasattr(model, name) else "eval")()

    def on_epoch_end(self, model):
        self.switch(model, "eval")
        with torch.no_grad():
            scores = [model(x).softmax(dim=1).max().item() for x, _ in self.batches]
        self.switch(model, self.after)
        return max(scores)


def fit(model, epochs=3):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train = make_batches(64, 0)
    checkpointer = Checkpointer(make_batches(32, 1), after="train_mode")
    for _ in range(epochs):
        for x, y in train:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        checkpointer.on_epoch_end(model)
    return model
