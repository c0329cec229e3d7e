"""Grid's actions around an experiment: `python -m gridrun.actions SPEC`.

When a run has `on_experiment_start` or `on_experiment_end` actions, each experiment runs
under this small wrapper (in the experiment's process group, environment, folder and log):

1. each start action, in order; if one fails, the script does not run and the experiment
   fails (the failure is written to SPEC's `failure_file` for the driver);
2. the script itself;
3. each end action, whatever the script's outcome (also after a SIGTERM).

It then exits as the script did (the same code, or the same signal). Actions run without a
shell: each is split like a shell would split it, then `${VAR}` (and `${VAR:-default}`) in
each word is replaced from the experiment's environment, the GRID_* variables included. Use
`bash -c '...'` explicitly for pipes or redirections.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute(word: str, env: Mapping[str, str]) -> str:
    """`${VAR}` and `${VAR:-default}` replaced from `env` (unset: empty, or the default)."""

    def value(match: re.Match[str]) -> str:
        found = env.get(match.group(1))
        if found:
            return found
        return match.group(2) if match.group(2) is not None else (found or "")

    return VARIABLE.sub(value, word)


def action_argv(command: str, env: Mapping[str, str]) -> list[str]:
    """The argv of one action: split as a shell would, then each word substituted."""
    return [substitute(word, env) for word in shlex.split(command)]


def run_action(command: str, env: Mapping[str, str]) -> int:
    """Run one action with the experiment's stdout and stderr; its exit code (127: none)."""
    try:
        argv = action_argv(command, env)
    except ValueError as error:
        print(f"gridrun: cannot read the action {command!r}: {error}", flush=True)
        return 2
    if not argv:
        return 0
    print(f"gridrun: action: {shlex.join(argv)}", flush=True)
    try:
        return subprocess.run(argv, env=dict(env), stdin=subprocess.DEVNULL).returncode
    except OSError as error:
        print(f"gridrun: cannot run {argv[0]!r}: {error.strerror or error}", flush=True)
        return 127


def main(argv: Sequence[str]) -> int:
    spec = json.loads(argv[0])
    env = dict(os.environ)
    terminated: list[int] = []
    child: list[subprocess.Popen] = []

    def on_term(signum: int, frame: object) -> None:
        terminated.append(signum)
        if child and child[0].poll() is None:  # the group got it too; say it once more
            child[0].send_signal(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    returncode = 0
    for command in spec.get("start", []):
        code = run_action(command, env)
        if code != 0 or terminated:
            failure = f"on_experiment_start action {command!r} failed (exit {code})"
            print(f"gridrun: {failure}; the script does not run", flush=True)
            with open(spec["failure_file"], "w", encoding="utf-8") as file:
                file.write(failure)
            returncode = code or 1
            break
    else:
        process = subprocess.Popen(spec["command"], env=env)
        child.append(process)
        while True:
            try:
                returncode = process.wait()
                break
            except InterruptedError:  # pragma: no cover - retried by Python
                continue
    for command in spec.get("end", []):
        run_action(command, env)
    sys.stdout.flush()
    if returncode < 0:  # end as the script ended: by the same signal
        signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
