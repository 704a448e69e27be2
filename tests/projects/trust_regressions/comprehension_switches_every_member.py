"""An ensemble put in eval mode member by member (by a comprehension run for its effect, or a
loop over the list), then evaluated, the second time through a comprehension over the same list:
every member is switched, so every forward after it runs in eval mode."""
import torch
from torch import nn


class Member(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 12)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(12, 3)

    def forward(self, x):
        return self.out(self.drop(self.hidden(x).relu()))


def fit_member(model, batches):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for features, labels in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(features), labels).backward()
        optimizer.step()


def vote(models, batches):
    _ = [models[i].eval() for i in range(len(models))]
    agree = 0
    with torch.no_grad():
        for features, labels in batches:
            scores = models[0](features).softmax(-1) + models[1](features).softmax(-1)
            agree += int((scores.argmax(-1) == labels).sum())
    return agree


def predict_average(models, features):
    for model in models:
        model.eval()
    with torch.no_grad():
        return torch.stack([model(features) for model in models]).mean(0)


def run_ensemble():
    batches = [(torch.randn(8, 6), torch.randint(0, 3, (8,))) for _ in range(4)]
    models = [Member(), Member()]
    for index in range(len(models)):
        fit_member(models[index], batches)
    print(vote(models, batches))
    print(predict_average(models, batches[0][0]))


if __name__ == "__main__":
    run_ensemble()
