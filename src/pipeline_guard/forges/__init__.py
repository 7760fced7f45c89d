"""Forges: the only code that talks to GitHub or GitLab. See :mod:`.base` and :mod:`.all_forges`.

In: the environment of a CI job (read by each forge's context reader) and the calls the guard makes
(list failed jobs, download logs, re-run, comment, open a fix PR/MR). Out: plain data
(:class:`~.base.FailedJob`, ...). Forges never decide: they may import only the leaves.
"""
