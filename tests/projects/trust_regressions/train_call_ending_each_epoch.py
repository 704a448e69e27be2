"""`model.train()` written after the training step, at the end of each epoch, hands the mode back
to the next epoch's training: it chooses nothing for the test that follows the loop, which then
runs in train mode. (A `train()` after the last training, Monte-Carlo dropout, is a choice:
fixtures/ok_mc_dropout_after_training.py.)"""
import torch
import torch.nn as nn


def fit_then_test(train_batches, test_batches):
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 2))
    opt = torch.optim.Adam(net.parameters())
    for epoch in range(3):
        for x, y in train_batches:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        net.eval()
        hits = 0
        with torch.no_grad():
            for x, y in test_batches:
                hits += (net(x).argmax(1) == y).sum().item()
        print(epoch, hits)
        net.train()
    hits = 0
    with torch.no_grad():
        for x, y in test_batches:
            hits += (net(x).argmax(1) == y).sum().item()  # EVL101
    print("test", hits)

