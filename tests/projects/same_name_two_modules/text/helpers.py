def prepare(model):
    model.train()
