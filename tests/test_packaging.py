"""Installation: a built wheel migrates on its own, and the embedded default needs no server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import psutil
import pytest
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.cli_helpers import run_subprocess
from tests.conftest import REPO_ROOT


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "SUPABASE_", "DB_", "SENTINEL_DB_", "PYTHONPATH"))
    }


def test_wheel_installed_in_a_fresh_venv_migrates_a_database(
    tmp_path: Path, fresh_database: URL
) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("sentinel_db-*.whl"))
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    # Dependencies come from this environment's site-packages; .pth files there (such as the
    # editable install of this checkout) are not processed, so only the wheel provides sentinel_db.
    purelib = next(Path(p) for p in site.getsitepackages() if p.endswith("site-packages"))
    new_site = next((target / "lib").glob("python3*/site-packages"))
    (new_site / "deps.pth").write_text(str(purelib) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--quiet",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = _clean_env()
    env["DATABASE_URL"] = fresh_database.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    where = subprocess.run(
        [
            str(python),
            "-c",
            "from sentinel_db.schema.migrations import script_location; print(script_location())",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(new_site) in where.stdout
    result = subprocess.run(
        [str(target / "bin" / "sentinel-db"), "db", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    db = Database.from_url(fresh_database, load_settings(None))
    assert migrations.status(db.engine).up_to_date


def test_importing_the_package_needs_no_environment_and_does_not_load_the_cli(
    tmp_path: Path,
) -> None:
    code = (
        "import sys, sentinel_db; assert 'typer' not in sys.modules and 'rich' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], env=_clean_env(), cwd=tmp_path, check=True)


@pytest.mark.slow
def test_without_a_url_the_embedded_server_starts_and_is_migrated_on_first_use(
    tmp_path: Path,
) -> None:
    # A folder of its own (not pytest's tmp_path, whose parents pytest may prune): the server
    # runs as another system user and needs the whole path to stay put while it runs.
    data_dir = Path(tempfile.mkdtemp(prefix="sentinel-db-embedded-test-")) / "pgdata"
    env = _clean_env()
    env["SENTINEL_DB_EMBEDDED_DIR"] = str(data_dir)
    try:
        result = run_subprocess("db", "status", env=env, cwd=tmp_path, timeout=180)
        assert result.exit_code == 0, result.stderr
        assert f"current: {migrations.head()}" in result.stdout
        notices = [line for line in result.stderr.splitlines() if "embedded PostgreSQL" in line]
        assert len(notices) == 1 and "DATABASE_URL" in notices[0] and len(notices[0]) <= 80
        again = run_subprocess("db", "status", env=env, cwd=tmp_path, timeout=180)
        assert again.exit_code == 0 and "pending: none" in again.stdout
    finally:
        pidfile = data_dir / "postmaster.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
                psutil.Process(pid).wait(timeout=30)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_without_a_url_or_the_embedded_extra_the_message_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _NoEmbedded:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pgserver':\n"
        "            raise ImportError('pgserver is not installed')\n"
        "sys.meta_path.insert(0, _NoEmbedded())\n"
    )
    env = _clean_env()
    env["PYTHONPATH"] = str(tmp_path)
    # A folder of its own: an embedded server left running by an earlier command (the README's
    # `sentinel-db import examples/data`, say) would answer without the extra.
    env["SENTINEL_DB_EMBEDDED_DIR"] = str(tmp_path / "pgdata")
    result = run_subprocess("db", "status", env=env, cwd=tmp_path, timeout=60)
    assert result.exit_code == 2, result.stderr
    assert "DATABASE_URL" in result.stderr and "sentinel-db[embedded]" in result.stderr
    assert "Traceback" not in result.stderr
