"""The history store: one row per diagnosed job, in SQLite or PostgreSQL (SQLAlchemy Core).

``history.url`` is a SQLAlchemy URL (``postgresql+psycopg://user@host/db``) or a plain file
path, which means a SQLite file (the embedded default, kept between runs with
``actions/cache`` or GitLab's ``cache:``). The schema is Alembic's: :meth:`Store.open` brings
any database, empty or older, to the newest revision in ``migrations/versions/`` before it is
used, so a store shared by many repositories upgrades itself once.

Needs the ``history`` extra (``pip install 'pipeline-guard[history]'``; PostgreSQL also needs
``psycopg``, the ``postgres`` extra). Only this module imports SQLAlchemy and Alembic, and only
when a store is configured: ``analyze`` and a ``run`` without a store never pay for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_guard.errors import ConfigError
from pipeline_guard.history.record import PASSED, Record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0001"  # the newest revision in migrations/versions/ (a test keeps them in step)


def store_url(value: str) -> str:
    """A SQLAlchemy URL; a bare path (no ``scheme://``) is a SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


class Store:
    """Append diagnoses, read evidence and digests back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, value: str) -> Store:
        """Connect to ``value`` and migrate it to the newest schema."""
        try:
            import sqlalchemy  # noqa: PLC0415 - optional extra, only when a store is used
        except ImportError:
            raise ConfigError(
                "history.url needs the history extra: pip install 'pipeline-guard[history]'"
            ) from None
        url = store_url(value)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = sqlalchemy.create_engine(url)
            store = cls(engine)
            store.migrate()
        except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:
            raise ConfigError(f"history.url: cannot open the store: {_short(exc)}") from None
        return store

    def migrate(self) -> None:
        """Alembic ``upgrade head`` on this database (an empty one included); a database
        already at :data:`HEAD` is left alone without importing Alembic (start-up time)."""
        if self._current() == HEAD:
            return
        from alembic import command  # noqa: PLC0415
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _current(self) -> str | None:
        from sqlalchemy import exc, text  # noqa: PLC0415

        try:
            with self.engine.connect() as connection:
                return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except exc.DBAPIError:
            return None

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def append(self, records: Sequence[Record]) -> None:
        if not records:
            return
        from pipeline_guard.history.migrations.schema import diagnoses  # noqa: PLC0415

        with self._begin() as connection:
            connection.execute(diagnoses.insert(), [_row(record) for record in records])

    def pending_retries(self, repository: str, limit: int) -> list[tuple[int, int, int]]:
        """(row id, run id, attempt) of re-runs whose outcome is not known yet, newest first."""
        from pipeline_guard.history.migrations.schema import diagnoses as d  # noqa: PLC0415

        query = (
            d.select()
            .with_only_columns(d.c.id, d.c.run_id, d.c.attempt)
            .where(d.c.repository == repository, d.c.action == "retry", d.c.outcome.is_(None))
            .where(d.c.run_id.is_not(None))
            .order_by(d.c.id.desc())
            .limit(limit)
        )
        with self._begin() as connection:
            return [(int(a), int(b), int(c)) for a, b, c in connection.execute(query)]

    def set_outcome(self, row_id: int, outcome: str) -> None:
        from pipeline_guard.history.migrations.schema import diagnoses as d  # noqa: PLC0415

        with self._begin() as connection:
            connection.execute(d.update().where(d.c.id == row_id).values(outcome=outcome))

    def flaky_count(self, repository: str, job: str, signature: str, since: datetime) -> int:
        """Re-runs of this failure (same job, same signature) that turned green."""
        from sqlalchemy import func  # noqa: PLC0415

        from pipeline_guard.history.migrations.schema import diagnoses as d  # noqa: PLC0415

        query = (
            d.select()
            .with_only_columns(func.count())
            .where(
                d.c.repository == repository,
                d.c.job == job,
                d.c.signature == signature,
                d.c.outcome == PASSED,
                d.c.recorded_at >= since,
            )
        )
        with self._begin() as connection:
            return int(connection.execute(query).scalar_one())

    def records(self, since: datetime, repositories: Sequence[str] = ()) -> list[Record]:
        """Every record since ``since`` (of these repositories), oldest first."""
        from pipeline_guard.history.migrations.schema import diagnoses as d  # noqa: PLC0415

        query = d.select().where(d.c.recorded_at >= since).order_by(d.c.id)
        if repositories:
            query = query.where(d.c.repository.in_(list(repositories)))
        with self._begin() as connection:
            return [_record(row._mapping) for row in connection.execute(query)]


def _row(record: Record) -> dict[str, Any]:
    row = record.model_dump()
    row["tests"] = json.dumps(list(record.tests))
    return row


def _record(row: Any) -> Record:
    data = dict(row)
    data.pop("id", None)
    data["tests"] = tuple(json.loads(data.get("tests") or "[]"))
    moment = data["recorded_at"]
    if moment.tzinfo is None:  # SQLite keeps no zone: everything is stored in UTC
        data["recorded_at"] = moment.replace(tzinfo=UTC)
    return Record.model_validate(data)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]
