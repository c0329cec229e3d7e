"""What runs a script: the interpreter and path that come before its arguments."""

from __future__ import annotations

import os
import sys


def script_command(script: str, python: str | None = None) -> tuple[str, ...]:
    """The argv prefix that runs `script`.

    A `.py` file runs under `python` (default: the interpreter running gridrun, never one
    looked up on PATH), a `.sh` file under bash, anything else directly: a file in the
    current folder as `./name`, a bare name as a command found on PATH.
    """
    if script.endswith(".py"):
        return (python or sys.executable, script)
    if script.endswith(".sh"):
        return ("bash", script)
    if os.sep not in script and os.path.isfile(script):
        return (os.path.join(".", script),)
    return (script,)
