"""A transformer whose every Dropout takes its rate from a config dict: built from a dict that
says 0.0 (and that is only updated with presets that leave the rate alone), its mode changes
nothing; built from one that says 0.1, or from one changed item by item, it may."""
import torch
import torch.nn as nn

BASE = {"vocab": 32, "width": 16, "drop_rate": 0.0}
PRESETS = {"small": {"width": 16, "depth": 2}, "large": {"width": 32, "depth": 4}}
CHOICE = "small"
BASE.update(PRESETS[CHOICE])

TRAINING_CONFIG = {"vocab": 32, "width": 16, "depth": 2, "drop_rate": 0.1}

TUNED = {"vocab": 32, "width": 16, "depth": 2, "drop_rate": 0.0}
TUNED["drop_rate"] = 0.2


class Attention(nn.Module):
    def __init__(self, width, dropout):
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.dropout(torch.softmax(q @ k.transpose(-1, -2), dim=-1)) @ v


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = Attention(cfg["width"], dropout=cfg["drop_rate"])
        self.norm = nn.LayerNorm(cfg["width"])
        self.drop = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        return x + self.drop(self.attention(self.norm(x)))


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg["vocab"], cfg["width"])
        self.drop = nn.Dropout(cfg["drop_rate"])
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg["depth"])])
        self.head = nn.Linear(cfg["width"], cfg["vocab"])

    def forward(self, tokens):
        return self.head(self.blocks(self.drop(self.embed(tokens))))


def fit(model, batches):
    opt = torch.optim.AdamW(model.parameters())
    model.train()
    for tokens, target in batches:
        nn.functional.cross_entropy(model(tokens).flatten(0, 1), target.flatten()).backward()
        opt.step()


def run_from_base(batches, prompt):
    model = Transformer(BASE)
    fit(model, batches)
    with torch.no_grad():
        logits = model(prompt)
    print(logits.argmax(-1))


def run_from_training_config(batches, prompt):
    model = Transformer(TRAINING_CONFIG)
    fit(model, batches)
    with torch.no_grad():
        logits = model(prompt)  # EVL101
    print(logits.argmax(-1))


def run_from_tuned(batches, prompt):
    model = Transformer(TUNED)
    fit(model, batches)
    with torch.no_grad():
        logits = model(prompt)  # EVL101
    print(logits.argmax(-1))


def run_from_local_config(batches, prompt, tiny):
    # Either branch's dict says 0.0: so does the one the model is built from.
    if tiny:
        cfg = {"vocab": 32, "width": 8, "depth": 1, "drop_rate": 0.0}
    else:
        cfg = {"vocab": 32, "drop_rate": 0.0}
        cfg.update(PRESETS[CHOICE])
    model = Transformer(cfg)
    fit(model, batches)
    with torch.no_grad():
        logits = model(prompt)
    print(logits.argmax(-1))


def run_from_local_config_with_dropout(batches, prompt, tiny):
    if tiny:
        cfg = {"vocab": 32, "width": 8, "depth": 1, "drop_rate": 0.0}
    else:
        cfg = {"vocab": 32, "width": 16, "depth": 2, "drop_rate": 0.1}
    model = Transformer(cfg)
    fit(model, batches)
    with torch.no_grad():
        logits = model(prompt)  # EVL101
    print(logits.argmax(-1))
