"""The pytest plugin: one PostgreSQL and one NATS per session, stopped at its end, or the env's servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from devstack.nats import EmbeddedNats
from devstack.postgres import EmbeddedPostgres
from devstack.readiness import port_is_free

INNER_TESTS = """
import json, os, pathlib
import psycopg, nats

def test_servers_answer(postgres_admin_url, nats_url):
    with psycopg.connect(postgres_admin_url) as conn:
        conn.execute("SELECT 1")
    pathlib.Path(os.environ["PLUGIN_OUT"]).write_text(json.dumps([postgres_admin_url, nats_url]))

def test_the_session_shares_them(postgres_admin_url, nats_url):
    assert json.loads(pathlib.Path(os.environ["PLUGIN_OUT"]).read_text()) == [postgres_admin_url, nats_url]
"""


def run_inner_session(tmp_path: Path, **env: str) -> tuple[str, str]:
    """Run a separate pytest session using the plugin; return the URLs its fixtures gave."""
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    out = tmp_path / "urls.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "devstack.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        # The outer session may itself run against servers named in the environment; the inner one decides anew.
        env={**_without_test_servers(os.environ), "PLUGIN_OUT": str(out), **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    admin_url, nats_url = json.loads(out.read_text())
    return admin_url, nats_url


def _without_test_servers(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in ("TEST_POSTGRES_ADMIN_URL", "TEST_NATS_URL")}


def test_servers_start_once_per_session_and_stop_at_its_end(tmp_path: Path) -> None:
    admin_url, nats_url = run_inner_session(tmp_path)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(admin_url, connect_timeout=5)
    assert port_is_free(int(nats_url.rsplit(":", 1)[1]))


def test_servers_named_in_the_environment_are_used_and_left_running(
    tmp_path: Path, embedded_postgres: EmbeddedPostgres, embedded_nats: EmbeddedNats
) -> None:
    admin_url, nats_url = run_inner_session(
        tmp_path, TEST_POSTGRES_ADMIN_URL=embedded_postgres.admin_url, TEST_NATS_URL=embedded_nats.url
    )
    assert (admin_url, nats_url) == (embedded_postgres.admin_url, embedded_nats.url)
    with psycopg.connect(admin_url) as conn:
        conn.execute("SELECT 1")
    assert embedded_nats.server_pid() is not None


def test_the_sessions_postgres_keeps_its_files_when_another_session_closes_pytests_root(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # What every pytest session does to its root when it starts: another developer's, or a test's inner session.
    root = tmp_path_factory.getbasetemp().parent
    mode = root.stat().st_mode
    root.chmod(mode & ~0o077)
    try:
        with psycopg.connect(postgres_admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute("CHECKPOINT")  # opens the cluster's control file anew
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        root.chmod(mode)
