"""Settings unpacked from one tuple (`hidden, layers, dropout = 32, 2, 0.0`), as notebooks set
their hyperparameters: a dropout of 0.0 handed to the LSTM leaves its mode nothing to change; the
same line with 0.3 makes it matter."""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, vocab, hidden, num_layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.LSTM(hidden, hidden, num_layers, dropout=dropout)

    def forward(self, x):
        return self.rnn(self.embed(x))[0]


hidden, num_layers, dropout = 32, 2, 0.0
tuned_hidden, tuned_layers, tuned_dropout = 32, 2, 0.3


def fit(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randint(0, 10, (5, 2))).sum().backward()
        optimizer.step()


def without_dropout():
    model = Encoder(10, hidden, num_layers, dropout)
    fit(model)
    with torch.no_grad():
        print(model(torch.randint(0, 10, (5, 2))).argmax(-1))


def with_dropout():
    model = Encoder(10, tuned_hidden, tuned_layers, tuned_dropout)
    fit(model)
    with torch.no_grad():
        print(model(torch.randint(0, 10, (5, 2))).argmax(-1))  # EVL101
