from .recorders import *
