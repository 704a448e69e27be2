"""A helper that hooks a layer of the model it is given; it never changes the model's mode."""


class ActivationRecorder:
    def __init__(self, model, layer_name):
        self.activations = []
        self.handle = model._modules[layer_name].register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.activations.append(output.detach())

    def remove(self):
        self.handle.remove()
