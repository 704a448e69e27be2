"""A script that smoke-tests its module-level model with test() before the training loop: the
model is untrained then, so that run evaluates nothing. validate(), called before the loop and
again after each epoch's training, evaluates the trained model."""
import torch
import torch.nn as nn

encoder = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 2))
optimizer = torch.optim.SGD(encoder.parameters(), lr=0.1)


def test():
    out = encoder(torch.randn(2, 4))
    print(out.size())


def train(x, y):
    loss = nn.functional.cross_entropy(encoder(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def validate(x):
    out = encoder(x)  # EVL101, EVL201
    print(out.argmax(1))


test()
validate(torch.randn(8, 4))
for epoch in range(3):
    encoder.train()
    train(torch.randn(8, 4), torch.randint(0, 2, (8,)))
    validate(torch.randn(8, 4))
