"""The diagnosis engine: one log in, one :class:`~pipeline_guard.engine.diagnosis.Diagnosis` out.

In: a log file or stream, the loaded rules, optionally a model behind the
:class:`~pipeline_guard.engine.prediction.Scorer` protocol. Out: a ``Diagnosis`` (category,
evidence lines, failing step and tests, explanation, advice, default action). Here live log
reading and cleaning (``log_reader``), steps (``step_tracker``), rule schema and loading
(``rule``, ``rule_cache``), prefilter needles (``needle``), the one-pass ``matcher``, the failure
``window``, the ``diagnosis`` itself, ``rule_checks`` behind ``rules test`` and the library
entry point ``analysis``. It may import only the leaves (``errors``, ``categories``): never a
forge, a fixer, the model pack, the guard or the CLI.
"""
