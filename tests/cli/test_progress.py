"""Progress bars: on a terminal's stderr only, and never paid for by a small ``analyze``."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from conftest import REPO, run_cli

LOG = "npm ERR! code ECONNRESET\n"


def _logs(tmp_path: Path, count: int) -> list[str]:
    paths = []
    for index in range(count):
        path = tmp_path / f"job-{index}.log"
        path.write_text(LOG, encoding="utf-8")
        paths.append(str(path))
    return paths


def _stderr_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout piped), as a person watching."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "NO_COLOR": "1"}
    shown: list[bytes] = []

    def drain() -> None:  # a full terminal buffer would block the process
        try:
            while chunk := os.read(controller, 65536):
                shown.append(chunk)
        except OSError:
            return

    reader = threading.Thread(target=drain)
    reader.start()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline_guard", *args],
        stdout=subprocess.PIPE,
        stderr=terminal,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    os.close(terminal)
    reader.join(timeout=10)
    os.close(controller)
    return done.returncode, done.stdout.decode(), b"".join(shown).decode("utf-8", "replace")


def test_several_logs_show_a_bar_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path) -> None:
    logs = _logs(tmp_path, 3)
    code, stdout, terminal = _stderr_on_a_terminal("analyze", *logs)
    assert code == 0
    assert "analyzing" in terminal
    assert "/3 " in terminal  # the bar knows the total
    assert "analyzing" not in stdout
    piped = run_cli("analyze", *logs)
    assert piped.returncode == 0
    assert piped.stderr == ""


def test_rules_test_shows_a_bar_on_a_terminal() -> None:
    code, stdout, terminal = _stderr_on_a_terminal("rules", "test")
    assert code == 0, stdout
    assert "checking rules" in terminal


def test_a_small_analyze_never_imports_tqdm(tmp_path: Path) -> None:
    [log] = _logs(tmp_path, 1)
    code = (
        "import sys\n"
        "from pipeline_guard.cli.main import main\n"
        f"main(['analyze', {log!r}])\n"
        "print('tqdm' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "False"
