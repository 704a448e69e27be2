"""Forwards of a model before anything trains it or loads its weights evaluate nothing: lazy
layers materialised under no_grad, a shape check of a freshly built network."""
import torch
import torch.nn as nn
import encoders  # a project module evallint cannot see

net = nn.Sequential(nn.LazyLinear(16), nn.Dropout(0.5), nn.Linear(16, 2))
with torch.no_grad():
    net(torch.randn(1, 10))
opt = torch.optim.Adam(net.parameters())
for _ in range(5):
    net.train()
    opt.zero_grad()
    net(torch.randn(4, 10)).sum().backward()
    opt.step()


def test():
    encoder = encoders.EncoderRNN(10, 10, 2)
    out = encoder(torch.LongTensor([1, 2, 3]))
    print(out.size())
