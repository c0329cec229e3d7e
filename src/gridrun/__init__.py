"""gridrun: hyperparameter sweeps of any script, with Grid.ai's sweep syntax.

Importing this package is cheap: it loads nothing heavy, so that scripts run by gridrun
can import it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridrun._version import __version__
from gridrun.tracking import log

if TYPE_CHECKING:
    from gridrun.export import RunRecords

__all__ = ["__version__", "load_run", "log"]


def load_run(name: str, home: Any = None, history: bool = False) -> RunRecords:
    """The experiments of a recorded run as plain dicts (`.to_pandas()` for a DataFrame).

    See `gridrun.api.load_run`; imported lazily so that `import gridrun` stays cheap.
    """
    from gridrun.api import load_run as load

    return load(name, home, history)
