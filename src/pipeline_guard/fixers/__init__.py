"""Fixers: mechanical fixes made and verified in the workspace. See :mod:`.base`.

In: a diagnosis, the path of the log it came from and a workspace checked out at the failing
commit. Out: a verified :class:`~.base.FixResult` (the files changed and how it was checked).
Fixers may import the engine (diagnoses, log reading) and the leaves, never a forge or the guard.
"""
