"""A tokenizer class that keeps its tiktoken encoding as `self.model`: a library that builds no
torch module, so `self.model.encode(...)` runs no network, whatever the attribute's name. The
language model's own `encode` does."""
import tiktoken
import torch
import torch.nn as nn


class Tokenizer:
    def __init__(self, name):
        self.model = tiktoken.get_encoding(name)

    def encode(self, text):
        return self.model.encode(text)

    def decode(self, ids):
        return self.model.decode(ids)


class LanguageModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50257, 16)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(16, 50257)

    def encode(self, ids):
        return self.drop(self.embed(ids))

    def forward(self, ids):
        return self.head(self.encode(ids))


def evaluate(model, tokenizer, text):
    model.eval()
    ids = torch.tensor([tokenizer.encode(text)])
    hidden = model.encode(ids)  # EVL201
    print(tokenizer.decode(hidden.argmax(-1)[0].tolist()))


def main():
    model = LanguageModel()
    tokenizer = Tokenizer("gpt2")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model.train()
        ids = torch.randint(0, 50257, (2, 8))
        loss = model(ids).logsumexp(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        evaluate(model, tokenizer, "hello")


main()
