"""The guard: ``pipeline-guard run`` inside a CI job, context -> collect -> diagnose -> decide ->
act -> report.

In: a :class:`~pipeline_guard.context.RunContext` (built by a forge's context reader from the
environment), the repository's config, the loaded rules and model. Out: what happened (re-runs,
comment, fix PRs) and the report (job summary, outputs, JSON report). ``policy`` and ``report``
are pure; everything that talks to the outside goes through the forge and fixer registries. It
may import the engine, the model, forges, fixers and the leaves; never the CLI.
"""

CONFIG_FILE = ".pipeline-guard.yml"
"""The repository's settings file, at its root. Named here, apart from its pydantic schema
(:mod:`.config`), so a command can tell that a repository has none without importing it."""
