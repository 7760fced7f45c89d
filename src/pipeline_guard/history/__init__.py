"""Is it my change? The pipeline's own history: broken trunk, flaky failures, retry outcomes.

In: a connected forge's :class:`~pipeline_guard.forges.base.History` reads (and, when
``history.url`` is set, the :mod:`.store`), the failed jobs and their diagnoses. Out: one
:class:`~pipeline_guard.history.evidence.JobHistory` per job, which the policy and the report
read. :mod:`.digest` turns stored diagnoses into the CI-health issue. SQLAlchemy and Alembic
(the ``history`` extra) are imported only by :mod:`.store`, and only when a store is used.
"""
