"""A training function that ends by predicting the test set in a comprehension: the predictions
are returned, never backpropagated, and the model is still in train mode with autograd on."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 4))

    def forward(self, x):
        return self.body(x)


def fit_then_predict(tagger, train_loader, test_loader):
    optimizer = torch.optim.SGD(tagger.parameters(), lr=0.05)
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(tagger(inputs), targets).backward()
        optimizer.step()
    return [tagger(inputs).argmax(1) for inputs, _ in test_loader]  # EVL101, EVL201


def tag_all():
    samples = TensorDataset(torch.randn(32, 5), torch.randint(0, 4, (32,)))
    predictions = fit_then_predict(Tagger(), DataLoader(samples, batch_size=8), DataLoader(samples, batch_size=8))
    torch.save(predictions, "predictions.pt")


if __name__ == "__main__":
    tag_all()
