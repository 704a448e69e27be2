# Two modules that re-export a name from each other: neither defines it.
from pkg.other import helpers
