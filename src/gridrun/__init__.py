"""gridrun: hyperparameter sweeps of any script, with Grid.ai's sweep syntax.

Importing this package is cheap: it loads nothing heavy, so that scripts run by gridrun
can import it too.
"""

from gridrun._version import __version__
from gridrun.tracking import log

__all__ = ["__version__", "log"]
