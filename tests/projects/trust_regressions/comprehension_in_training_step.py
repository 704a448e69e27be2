"""Multi-head training where each head's output is computed in a comprehension and the losses
are summed by a generator expression: every output reaches backward(), so these forwards are
the training step, not an evaluation."""
import torch
from torch import nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.proj = nn.Linear(16, 2)

    def forward(self, features):
        return self.proj(self.drop(features))


def train_heads(encoder, heads, batches):
    params = list(encoder.parameters()) + [p for head in heads for p in head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    encoder.train()
    for head in heads:
        head.train()
    for inputs, labels in batches:
        features = encoder(inputs)
        logits = [head(features) for head in heads if head is not None]
        loss = sum(nn.functional.cross_entropy(out, labels) for out in logits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main():
    encoder = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.ReLU())
    heads = [Head() for _ in range(3)]
    batches = [(torch.randn(4, 8), torch.randint(0, 2, (4,))) for _ in range(5)]
    train_heads(encoder, heads, batches)


if __name__ == "__main__":
    main()
