from pkg import helpers
from pkg import other as again


def run(model, loader):
    helpers.evaluate(model, loader)
    again.run(model, loader)
