"""Alembic migrations of the history store (``env.py``, ``versions/``) and its schema."""
