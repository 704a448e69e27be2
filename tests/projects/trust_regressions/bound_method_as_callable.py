"""A model's `@torch.no_grad()` method handed to a helper as a callable (`encoder=model.embed`)
and kept on an attribute, on one branch: calling the attribute runs that method, with autograd
off. A helper handed the model itself runs it with autograd on."""
import torch
import torch.nn as nn


class TextEmbedder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.1))

    def forward(self, tokens):
        return self.net(tokens)

    @torch.no_grad()
    def embed(self, tokens, batch_size=8):
        self.eval()
        return torch.cat([self(chunk) for chunk in tokens.split(batch_size)])


class VectorIndex:
    def __init__(self, documents, encoder=None):
        self.documents = documents
        self.encoder_fn = encoder
        if self.encoder_fn is not None:
            self.encoder = self.encoder_fn
        self.vectors = self.encoder(self.documents)


class ModelIndex:
    def __init__(self, documents, encoder):
        self.encoder = encoder
        self.vectors = self.encoder(documents)  # EVL201


def evaluate_retrieval(model, documents):
    index = VectorIndex(documents, encoder=model.embed)
    return index.vectors.norm(dim=1).mean().item()


def evaluate_retrieval_with_model(model, documents):
    model.eval()
    index = ModelIndex(documents, encoder=model)
    return index.vectors.norm(dim=1).mean().item()


if __name__ == "__main__":
    docs = torch.randn(32, 16)
    embedder = TextEmbedder()
    embedder.load_state_dict(torch.load("embedder.pt"))
    print(evaluate_retrieval(embedder, docs))
    print(evaluate_retrieval_with_model(embedder, docs))
