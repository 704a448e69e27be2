"""A script (or notebook) that saves a whole model and loads it back: the loaded model is the class
it saved. A regression net of Linear layers has no mode to forget (EVL201 only); a net with
Dropout loaded the same way runs in the mode it was saved in (train), so both rules fire."""
import torch
import torch.nn as nn

x = torch.randn(100, 1)
y = x.pow(2)


def fit(net, path):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(100):
        loss = nn.functional.mse_loss(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save(net, path)


def save_plain():
    plain = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 1))
    fit(plain, "plain.pkl")
    torch.save(plain, "plain.pkl")


def save_dropout():
    dropping = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Dropout(0.3), nn.Linear(10, 1))
    fit(dropping, "dropping.pkl")
    torch.save(dropping, "dropping.pkl")


def restore_plain():
    net = torch.load("plain.pkl")
    prediction = net(x)  # EVL201
    print(prediction.mean())


def restore_dropout():
    net = torch.load("dropping.pkl")
    prediction = net(x)  # EVL101, EVL201
    print(prediction.mean())


save_plain()
save_dropout()
restore_plain()
restore_dropout()
