"""Alembic's environment: migrate the connection :meth:`Store.migrate` hands over."""

from __future__ import annotations

from alembic import context

from pipeline_guard.history.migrations.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
