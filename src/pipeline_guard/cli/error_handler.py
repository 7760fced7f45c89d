"""Turn expected failures into one line on stderr and an exit code, at the CLI boundary only.

Everything below the CLI raises :class:`~pipeline_guard.errors.GuardError` subclasses; here
they become ``pipeline-guard: error: <message>`` and the error's exit code. Anything else is a
bug in pipeline-guard and keeps its traceback, so it gets reported and fixed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pipeline_guard.errors import GuardError


def report_error(message: str) -> None:
    """One line on stderr, prefixed with the program name."""
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"pipeline-guard: error: {first_line}", file=sys.stderr)


def run_guarded(command: Callable[[], int]) -> int:
    """Run a command; expected failures become one line and their exit code."""
    try:
        return command()
    except GuardError as exc:
        report_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("pipeline-guard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`); nothing left to say to it.
        sys.stderr.close()
        return 0
