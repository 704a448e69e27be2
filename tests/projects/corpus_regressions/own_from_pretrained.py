"""A project's own from_pretrained that builds the model without switching it to eval (as small GPT
repositories write it): training it right away is fine."""
import torch
from torch import nn


class GPT(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.Dropout(0.1))

    def forward(self, x):
        return self.body(x)

    @classmethod
    def from_pretrained(cls, name):
        model = GPT(8)
        model.load_state_dict(torch.load(name))
        return model


def train(batches, name):
    model = GPT.from_pretrained(name)
    optimizer = torch.optim.AdamW(model.parameters())
    for x, y in batches:
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
