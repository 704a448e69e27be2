"""A model built lazily on first use (`if not self.loaded: self.model = Generator().eval()`) and
run through its own `@torch.no_grad()` method: on the path where it was built earlier the
attribute is still that model, so autograd is off either way. The model run directly
(`self.model(x)`) builds a graph."""
import torch
import torch.nn as nn


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1))

    def forward(self, x):
        return self.net(x)

    @torch.no_grad()
    def inference(self, x):
        self.eval()
        return self(x)


class Extractor:
    def __init__(self):
        self.loaded = False

    def _extract_one(self, text):
        if not self.loaded:
            self.model = Generator().eval()
            self.model.load_state_dict(torch.load("generator.pt"))
            self.loaded = True
        return self.model.inference(text)

    def extract(self, texts):
        return [self._extract_one(text) for text in texts]


class RawExtractor:
    def __init__(self):
        self.model = Generator().eval()
        self.model.load_state_dict(torch.load("generator.pt"))

    def _extract_one(self, text):
        return self.model(text)  # EVL201

    def extract(self, texts):
        return [self._extract_one(text) for text in texts]


def evaluate_extraction(texts):
    extractor = Extractor()
    print(extractor.extract(texts))
    raw_extractor = RawExtractor()
    print(raw_extractor.extract(texts))


if __name__ == "__main__":
    evaluate_extraction(torch.randn(3, 8))
