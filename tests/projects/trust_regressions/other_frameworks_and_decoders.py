"""Values that are no torch modules: a project class deriving from a Keras model has no torch mode and
builds no autograd graph, whatever it is called; torchaudio's CTC decoder is a search over
emissions, not a network. Nothing here is a finding."""
import torch
from torchaudio.models.decoder import ctc_decoder
import tensorflow as tf


class Recognizer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.1))

    def forward(self, x):
        return self.body(x)


class KerasNet(tf.keras.Model):
    def call(self, x):
        return x


def evaluate(model, batches, tokens):
    model.eval()
    decoder = ctc_decoder(lexicon=None, tokens=tokens)
    with torch.no_grad():
        for x in batches:
            print(decoder(model(x)))


def evaluate_keras(batches):
    net = KerasNet()
    net.load_weights("w.h5")
    for x in batches:
        print(net(x))


class Transcriber:
    def __init__(self, model, tokens):
        self.model = model
        self.decoder = ctc_decoder(lexicon=None, tokens=tokens)

    def transcribe(self, x):
        self.model.eval()
        with torch.inference_mode():
            emissions = self.model(x)
        hypotheses = self.decoder(emissions)
        print(hypotheses)


def main(batches, tokens):
    model = Recognizer()
    model.load_state_dict(torch.load("asr.pt"))
    transcriber = Transcriber(model, tokens)
    for x in batches:
        transcriber.transcribe(x)
