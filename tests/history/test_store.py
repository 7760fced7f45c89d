"""The history store, the same tests on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``.ci/postgres.sh`` (``PIPELINE_GUARD_TEST_POSTGRES``); outside CI the
PostgreSQL half is skipped with the reason, and ``.ci/run`` sets
``PIPELINE_GUARD_REQUIRE_POSTGRES=1`` so that there a missing server is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from pipeline_guard.errors import ConfigError
from pipeline_guard.history.record import FAILED, PASSED, Record
from pipeline_guard.history.store import HEAD, MIGRATIONS, Store, store_url

POSTGRES = os.environ.get("PIPELINE_GUARD_TEST_POSTGRES")
REQUIRED = os.environ.get("PIPELINE_GUARD_REQUIRE_POSTGRES") == "1"
NOW = datetime.now(UTC)


def _empty_postgres(url: str) -> str:
    """The test database, emptied: every test starts from an empty schema."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind."""
    if request.param == "sqlite":
        yield str(tmp_path / "cache" / "history.db")  # a plain path: the SQLite default
        return
    if not POSTGRES:
        if REQUIRED:
            pytest.fail("PIPELINE_GUARD_TEST_POSTGRES is not set: run .ci/postgres.sh")
        pytest.skip('no PostgreSQL server: eval "$(.ci/postgres.sh)" to run these')
    yield _empty_postgres(POSTGRES)


def record(job: str = "test", **changes: object) -> Record:
    base = Record(
        recorded_at=NOW,
        platform="github",
        repository="octo/app",
        run_id=100,
        job=job,
        commit="a" * 40,
        branch="feature",
        category="test-failure",
        rule="pytest-failed",
        signature="0123456789abcdef",
        tests=("tests/test_app.py::test_add",),
        action="comment",
        duration=61.5,
    )
    return base.model_copy(update=changes)


def test_an_empty_database_is_migrated_to_the_newest_revision(url: str) -> None:
    store = Store.open(url)

    assert store.revision() == "0001"
    assert sa.inspect(store.engine).get_table_names() == ["alembic_version", "diagnoses"]
    Store.open(url)  # a second open finds it current and changes nothing
    assert store.revision() == "0001"


def test_records_round_trip_in_order_and_by_repository(url: str) -> None:
    store = Store.open(url)
    rows = [record("a"), record("b", repository="octo/other"), record("c", tests=())]

    store.append(rows)

    assert store.records(NOW - timedelta(days=1)) == rows
    assert store.records(NOW - timedelta(days=1), ["octo/other"]) == [rows[1]]
    assert store.records(NOW + timedelta(seconds=1)) == []


def test_retry_outcomes_are_read_back_and_count_as_flaky(url: str) -> None:
    store = Store.open(url)
    store.append(
        [
            record(action="retry", run_id=7),
            record(action="retry", run_id=8),
            record(action="retry", run_id=9, signature="fedcba9876543210"),
            record(action="comment", run_id=10),
        ]
    )
    pending = store.pending_retries("octo/app", 10)
    assert [run for _, run, _ in pending] == [9, 8, 7]

    by_run = {run: row for row, run, _ in pending}
    store.set_outcome(by_run[7], PASSED)
    store.set_outcome(by_run[8], FAILED)
    store.set_outcome(by_run[9], PASSED)

    assert store.pending_retries("octo/app", 10) == []
    since = NOW - timedelta(days=14)
    assert store.flaky_count("octo/app", "test", "0123456789abcdef", since) == 1
    assert store.flaky_count("octo/app", "test", "fedcba9876543210", since) == 1
    assert store.flaky_count("octo/app", "lint", "0123456789abcdef", since) == 0


def test_a_bare_path_is_a_sqlite_file(tmp_path: Path) -> None:
    assert store_url(str(tmp_path / "h.db")) == f"sqlite:///{tmp_path / 'h.db'}"
    assert store_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_an_unreachable_store_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"history\.url: cannot open the store"):
        Store.open("postgresql+psycopg://nobody@/nothing?host=/nonexistent&port=1")


def test_analyze_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("npm ERR! code ECONNRESET\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from pipeline_guard.cli.main import console_main\n"
        f"sys.argv = ['pipeline-guard', 'analyze', {str(log)!r}]\n"
        "try:\n    console_main()\nexcept SystemExit:\n    pass\n"
        "assert 'sqlalchemy' not in sys.modules and 'alembic' not in sys.modules\n"
        "import pipeline_guard.guard.run\n"
        "assert 'sqlalchemy' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_head_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD
