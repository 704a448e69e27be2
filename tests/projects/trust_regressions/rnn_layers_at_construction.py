"""A GRU's dropout acts between its layers: a decoder built with one layer drops nothing,
whatever its dropout argument, so its mode changes nothing. Built with two, it does."""
import torch
import torch.nn as nn

LAYERS = 1
DEEP_LAYERS = 2


class Decoder(nn.Module):
    def __init__(self, size, layers=1, dropout=0.1):
        super().__init__()
        self.embed = nn.Embedding(16, size)
        self.rnn = nn.GRU(size, size, layers, dropout=dropout)
        self.out = nn.Linear(size, 16)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.embed(tokens), hidden)
        return self.out(output), hidden


def fit(decoder, batches):
    opt = torch.optim.Adam(decoder.parameters())
    decoder.train()
    for tokens, hidden, target in batches:
        output, _ = decoder(tokens, hidden)
        nn.functional.cross_entropy(output.view(-1, 16), target.view(-1)).backward()
        opt.step()


def run_shallow(batches, tokens, hidden):
    decoder = Decoder(8, LAYERS)
    fit(decoder, batches)
    with torch.no_grad():
        output, _ = decoder(tokens, hidden)
    print(output)


def run_shallow_by_default(batches, tokens, hidden):
    decoder = Decoder(8, dropout=0.5)
    fit(decoder, batches)
    with torch.no_grad():
        output, _ = decoder(tokens, hidden)
    print(output)


def run_deep(batches, tokens, hidden):
    decoder = Decoder(8, DEEP_LAYERS)
    fit(decoder, batches)
    with torch.no_grad():
        output, _ = decoder(tokens, hidden)  # EVL101
    print(output)
