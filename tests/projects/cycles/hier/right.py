from hier.left import Left


class Right(Left):
    def head(self, x):
        return self.forward(x)
