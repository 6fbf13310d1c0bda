"""Running the CLI in tests: in-process (fast) or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sentinel_db.cli import main


@dataclass
class Result:
    """Exit code and captured output of one CLI run."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, input: str | None = None) -> Result:
    """Run ``sentinel-db ARGS`` in this process and capture what it prints."""
    capsys.readouterr()
    if input is not None:
        import io

        sys.stdin = io.StringIO(input)
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = sys.__stdin__
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Result:
    """Run ``python -m sentinel_db ARGS`` as a separate process."""
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel_db", *args],
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
