"""A model built lazily on first use (`if not self.loaded: self.model = Generator().eval()`) by a
helper called once per item of a `for` loop: on the loop's next pass the attribute is still that
`Generator`, whose own `@torch.no_grad()` method runs it. (The code before knew the attribute's
mode after the first call but not its class, and reported the second pass's call as a forward.)
The model run directly (`self.model(x)`) builds a graph."""
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
        out = []
        for text in texts:
            out.append(self._extract_one(text))
        return out


class RawExtractor:
    def __init__(self):
        self.model = Generator().eval()
        self.model.load_state_dict(torch.load("generator.pt"))

    def _extract_one(self, text):
        return self.model(text)  # EVL201

    def extract(self, texts):
        out = []
        for text in texts:
            out.append(self._extract_one(text))
        return out


def evaluate_extraction(texts):
    extractor = Extractor()
    print(extractor.extract(texts))
    raw_extractor = RawExtractor()
    print(raw_extractor.extract(texts))


if __name__ == "__main__":
    evaluate_extraction(torch.randn(3, 8))
