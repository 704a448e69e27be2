"""Modules that run the layers they are handed (`RNNModel(rnn_layer)`, an encoder given a shared
block): an instance is as mode-dependent as what it was handed. Built around a one-layer LSTM or
a block of InstanceNorm layers (no running statistics), its mode changes nothing; built around
an LSTM with dropout between two layers, or around Dropout, it does."""
import torch
import torch.nn as nn


class RNNModel(nn.Module):
    def __init__(self, rnn_layer, vocab_size):
        super().__init__()
        self.rnn = rnn_layer
        self.dense = nn.Linear(rnn_layer.hidden_size, vocab_size)

    def forward(self, x):
        return self.dense(self.rnn(x)[0])


class Block(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, features), nn.InstanceNorm1d(features))

    def forward(self, x):
        return x + self.body(x)


class Encoder(nn.Module):
    def __init__(self, features, shared_block=None):
        super().__init__()
        self.inp = nn.Linear(4, features)
        self.shared_block = shared_block

    def forward(self, x):
        return self.shared_block(self.inp(x))


def fit(model, x):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()


def one_layer_lstm():
    model = RNNModel(nn.LSTM(input_size=4, hidden_size=8), vocab_size=10)
    fit(model, torch.randn(5, 2, 4))
    with torch.no_grad():
        print(model(torch.randn(5, 2, 4)).argmax(-1))


def lstm_with_dropout():
    layer = nn.LSTM(input_size=4, hidden_size=8, num_layers=2, dropout=0.5)
    model = RNNModel(layer, vocab_size=10)
    fit(model, torch.randn(5, 2, 4))
    with torch.no_grad():
        print(model(torch.randn(5, 2, 4)).argmax(-1))  # EVL101


def shared_instance_norm_block():
    shared = Block(features=8)
    model = Encoder(8, shared_block=shared)
    fit(model, torch.randn(3, 4))
    with torch.no_grad():
        print(model(torch.randn(3, 4)).argmax(-1))


def shared_dropout():
    model = Encoder(8, shared_block=nn.Dropout(0.5))
    fit(model, torch.randn(3, 4))
    with torch.no_grad():
        print(model(torch.randn(3, 4)).argmax(-1))  # EVL101
