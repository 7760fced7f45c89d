"""The store's tables as SQLAlchemy Core sees them now (the migrations build them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

diagnoses = Table(
    "diagnoses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("repository", String(255), nullable=False),
    Column("workflow", String(255)),
    Column("run_id", BigInteger),
    Column("run_url", Text),
    Column("job", String(255), nullable=False),
    Column("job_url", Text),
    Column("commit", String(64)),
    Column("branch", String(255)),
    Column("attempt", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("rule", String(255)),
    Column("signature", String(32)),
    Column("tests", Text, nullable=False),
    Column("action", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("broken_trunk", Boolean, nullable=False),
    Column("flaky", Boolean, nullable=False),
    Column("duration", Float),
    Index("ix_diagnoses_repository_recorded_at", "repository", "recorded_at"),
    Index("ix_diagnoses_signature", "repository", "job", "signature"),
)
