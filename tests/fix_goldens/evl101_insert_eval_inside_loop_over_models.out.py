import torch
import torch.nn as nn

first = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
second = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
models = [first, second]
test_batches = [torch.randn(2, 4)]


def evaluate():
    scores = []
    for model in models:
        with torch.no_grad():
            model.eval()
            for x in test_batches:
                scores.append(model(x))
    return scores


evaluate()
