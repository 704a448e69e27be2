from torch import nn

from engine import evaluate


def fit(model, optimizer, train_loader, val_loader):
    for epoch in range(5):
        for x, y in train_loader:
            loss = (model(x) - y).pow(2).mean()  # EVL102
            loss.backward()
            optimizer.step()
        evaluate(model, val_loader)


def main(train_loader, val_loader, optimizer):
    fit(nn.Sequential(nn.Linear(4, 4), nn.Dropout()), optimizer, train_loader, val_loader)
