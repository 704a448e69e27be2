# `lab.engine.metrics` is jobs/lab/engine/metrics.py when this script runs as
# `python jobs/sweep.py`, and lab/engine/metrics.py when the project root is on sys.path:
# with two candidates the import stays unresolved rather than guessed.
import torch
from torch import nn

from lab.engine.metrics import measure


def sweep(train_loader, val_loader):
    for rate in (0.1, 0.3):
        model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(rate), nn.Linear(8, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for x, y in train_loader:
            loss = (model(x) - y).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(rate, measure(model, val_loader))
