"""pipeline-guard: diagnoses failed CI jobs from their logs, then retries, comments or opens a fix.

Parts, from the top down (imports point down only; ``lint-imports`` checks it in CI):
``cli`` > ``guard`` | ``lab`` > ``fixers`` | ``model`` > ``forges`` | ``engine`` > the leaves
``errors``, ``categories``, ``context``, ``redact``, ``markdown``. Each part's docstring says
what goes in and what comes out; ``docs/architecture.md`` walks through the flow.
"""

__version__ = "0.1.0"
