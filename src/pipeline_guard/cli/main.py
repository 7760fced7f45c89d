"""The ``pipeline-guard`` command line: parse arguments and dispatch, nothing else.

Each sub-command lives in :mod:`pipeline_guard.cli.commands`; expected failures become one line and
an exit code in :mod:`pipeline_guard.cli.error_handler` (2 for usage and configuration errors).
The environment is read here, once, and passed down as values.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pipeline_guard import __version__
from pipeline_guard.cache_dir import cache_dir
from pipeline_guard.cli.error_handler import run_guarded
from pipeline_guard.cli.render import FORMATS
from pipeline_guard.engine.prefilter import engine_name
from pipeline_guard.errors import UsageError
from pipeline_guard.redact import Redactor

EXIT_CODES = """\
exit codes:
  0  done (for analyze: every input was diagnosed, whatever the diagnosis)
  1  something pipeline-guard should have done failed (named on stderr); rules test: a failure
  2  usage or configuration error (bad option, unreadable input, invalid rule/config/model)"""

EXAMPLES = {
    "pipeline-guard": """\
examples:
  pipeline-guard analyze build.log
  pipeline-guard run --platform local --log-file 'logs/*.log'
  pipeline-guard rules test .pipeline-guard/rules""",
    "analyze": """\
examples:
  pipeline-guard analyze build.log test.log
  gh run view 123 --log-failed | pipeline-guard analyze - --format markdown""",
    "run": """\
Options also come from action inputs (INPUT_<NAME>) and PIPELINE_GUARD_<NAME> variables.
Environment: PIPELINE_GUARD_TOKEN (GitLab token), PIPELINE_GUARD_DEADLINE (seconds for all API
calls, default 300), PIPELINE_GUARD_CACHE_DIR (off: no cache), NO_COLOR, FORCE_COLOR.

examples:
  pipeline-guard run                       # in GitHub Actions or GitLab CI: all is detected
  pipeline-guard run --platform local --log-file 'logs/*.log' --report report.json""",
    "rules": """\
examples:
  pipeline-guard rules test
  pipeline-guard rules list --format json""",
    "rules test": """\
examples:
  pipeline-guard rules test                         # the bundled and repository rules
  pipeline-guard rules test --no-bundled my-rules/  # only yours""",
    "rules list": """\
examples:
  pipeline-guard rules list --format json""",
    "eval": """\
examples:
  pipeline-guard eval corpus/ --misses
  pipeline-guard eval corpus/ --cv 5      # honest model scores (needs scikit-learn)""",
    "train": """\
examples:
  pipeline-guard train corpus/ -o ci/model.npz   # then: model: ci/model.npz in the config""",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors go through our one-line error path with exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _Version(argparse.Action):
    """``--version``: the version alone on the first line (the release workflow checks that
    line), then which prefilter engine scans logs (see ``engine/prefilter.py``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {__version__}\nprefilter engine: {engine_name()}")
        parser.exit()


def _command(
    commands: argparse._SubParsersAction[_Parser], name: str, key: str, summary: str
) -> _Parser:
    """A sub-command whose --help has its description, defaults, an example and exit codes."""
    return commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=f"{EXAMPLES[key]}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> _Parser:
    parser = _Parser(
        prog="pipeline-guard",
        description="Diagnose failed CI jobs from their logs; retry, comment or open fixes.",
        epilog=f"{EXAMPLES['pipeline-guard']}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show the version and the engine")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    analyze = _command(commands, "analyze", "analyze", "diagnose CI log files")
    analyze.add_argument("files", nargs="*", metavar="FILE", help="log files, or - for stdin")
    analyze.add_argument(
        "--format", choices=FORMATS, default="text", help="output format (default: %(default)s)"
    )
    analyze.add_argument(
        "--no-redact",
        dest="redact",
        action="store_false",
        help="show secrets in the output (local debugging only; redacted by default)",
    )
    analyze.add_argument(
        "--baseline",
        metavar="GOOD.log",
        help="log of a green run of the same job: lines also found there are not the cause",
    )
    _add_rules_option(analyze)
    _add_model_option(analyze)
    _add_verbose_option(analyze)

    _add_run_parser(commands)
    _add_rules_parser(commands)
    _add_digest_parser(commands)

    evaluate = _command(commands, "eval", "eval", "score diagnoses on a labelled corpus")
    evaluate.add_argument(
        "corpus", type=Path, metavar="CORPUS_DIR", help="labels.jsonl and cases/<id>.log"
    )
    evaluate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default: %(default)s)",
    )
    evaluate.add_argument("--misses", action="store_true", help="list every wrong diagnosis")
    evaluate.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="grouped K-fold cross-validation: train a model per fold (needs scikit-learn; "
        "default: off, score the loaded model pack)",
    )
    evaluate.add_argument(
        "--train-also",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="with --cv: a further labelled corpus the failing-step part (line ranker, step "
        "classifier) also learns from in every fold, its logs of the held-out projects left out "
        "(repeatable; as `train --ranker` is given several corpora)",
    )
    evaluate.add_argument(
        "--no-baseline",
        dest="use_baseline",
        action="store_false",
        help="score the failed logs alone, without the green logs a corpus may pair them with",
    )
    evaluate.add_argument(
        "--ablation",
        action="store_true",
        help="also score each whole-log step alone (rules alone, + failing step, + terminal, "
        "+ baseline)",
    )
    _add_rules_option(evaluate)
    _add_model_option(evaluate)
    _add_verbose_option(evaluate)

    train = _command(commands, "train", "train", "train a model pack on labelled corpora")
    train.add_argument(
        "corpora", nargs="+", type=Path, metavar="CORPUS_DIR", help="labelled corpora"
    )
    train.add_argument(
        "-o", "--output", type=Path, required=True, metavar="MODEL", help="the pack to write"
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument(
        "--epochs", type=int, default=40, help="passes over the data (default: %(default)s)"
    )
    train.add_argument(
        "--folds", type=int, default=5, help="folds of the calibration CV (default: %(default)s)"
    )
    train.add_argument(
        "--no-rule-examples",
        dest="rule_examples",
        action="store_false",
        help="do not add the rules' match examples to the training data",
    )
    train.add_argument(
        "--ranker",
        action="store_true",
        help="train the line ranker (from corpora with failure spans) instead of the category "
        "model; the other part of an existing pack at -o is kept",
    )
    _add_rules_option(train)
    _add_verbose_option(train)
    return parser


def _add_rules_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    rules = _command(commands, "rules", "rules", "test or list rules")
    rule_commands = rules.add_subparsers(
        dest="rules_command", metavar="ACTION", parser_class=_Parser
    )
    rule_commands.required = True
    rules_test = _command(rule_commands, "test", "rules test", "run every rule's examples")
    rules_test.add_argument(
        "dirs", nargs="*", type=Path, metavar="DIR", help="test only these rule folders or files"
    )
    _add_bundled_option(rules_test)
    _add_verbose_option(rules_test)
    rules_list = _command(rule_commands, "list", "rules list", "list the loaded rules")
    rules_list.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default: %(default)s)",
    )
    _add_rules_option(rules_list)
    _add_verbose_option(rules_list)


def _add_run_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    run = _command(
        commands,
        "run",
        "run",
        "diagnose a failed CI run and retry, comment or open fixes (the CI entry point)",
    )
    run.add_argument(
        "--platform",
        help="github, gitlab or local (default: detected from GITHUB_ACTIONS / GITLAB_CI)",
    )
    run.add_argument("--mode", help="GitHub: workflow_run, after-job or in-job (default: detected)")
    run.add_argument(
        "--log-file",
        dest="log_files",
        action="append",
        default=[],
        metavar="GLOB",
        help="read these log files instead of asking the forge (repeatable; globs allowed)",
    )
    run.add_argument(
        "--config", type=Path, metavar="PATH", help="config file (default: .pipeline-guard.yml)"
    )
    dry = run.add_mutually_exclusive_group()
    dry.add_argument(
        "--dry-run", action="store_true", default=None, help="print the plan, change nothing"
    )
    dry.add_argument(
        "--no-dry-run",
        dest="dry_run",
        action="store_false",
        help="act even if the config says dry-run",
    )
    run.add_argument(
        "--no-comment",
        dest="comment",
        action="store_false",
        default=None,
        help="do not post or edit the PR/MR comment",
    )
    run.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="JSON report file to write (default: pipeline-guard-report.json)",
    )
    run.add_argument(
        "--workspace",
        type=Path,
        metavar="DIR",
        help="the checked-out repository (default: GITHUB_WORKSPACE, CI_PROJECT_DIR or .)",
    )
    _add_rules_option(run)
    _add_model_option(run)
    _add_verbose_option(run)


def _add_digest_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    digest = commands.add_parser(
        "digest", help="CI-health digest from the history store (and the repository's issue)"
    )
    digest.add_argument("--history-url", metavar="URL", help="SQLAlchemy URL or SQLite file path")
    digest.add_argument("--days", type=int, default=14, help="the last N days (default 14)")
    digest.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="markdown (for an issue, with mermaid charts) or json (default: %(default)s)",
    )
    digest.add_argument(
        "--repository",
        dest="repositories",
        action="append",
        default=[],
        metavar="NAME",
        help="only this repository (repeatable; default: all, or the current one with --publish)",
    )
    digest.add_argument(
        "--publish", action="store_true", help="create or edit the repository's digest issue"
    )
    digest.add_argument("--platform", help="github or gitlab (default: detected)")
    digest.add_argument("--config", type=Path, metavar="PATH", help="config file to use")


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="model pack to use (default: `model:` of .pipeline-guard.yml, else the bundled one)",
    )
    parser.add_argument(
        "--no-model", dest="use_model", action="store_false", help="rules only, no model pack"
    )


def _add_bundled_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-bundled",
        dest="bundled",
        action="store_false",
        help="leave out the bundled rule pack (to work on your own rules alone)",
    )


def _add_verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the log messages of the libraries used (HTTP retries, ...)",
    )


def _add_rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="extra rule folder (repeatable); its rules extend or replace bundled ones by id",
    )
    _add_bundled_option(parser)


def _dispatch(args: argparse.Namespace, env: Mapping[str, str]) -> int:  # noqa: PLR0911
    cache = cache_dir(env)
    if args.command == "analyze":
        from pipeline_guard.cli.commands import analyze

        return analyze.run(
            sources=args.files,
            fmt=args.format,
            rule_dirs=args.rules,
            bundled=args.bundled,
            model_path=args.model,
            use_model=args.use_model,
            env=env,
            redactor=Redactor.from_env(env) if args.redact else None,
            baseline=args.baseline,
        )
    if args.command == "run":
        from pipeline_guard.cli.commands import run

        return run.run(
            platform=args.platform,
            mode=args.mode,
            log_files=args.log_files,
            config_path=args.config,
            dry_run=args.dry_run,
            comment=args.comment,
            report=args.report,
            workspace=args.workspace,
            rule_dirs=args.rules,
            bundled=args.bundled,
            model_path=args.model,
            use_model=args.use_model,
            env=env,
        )
    if args.command == "digest":
        from pipeline_guard.cli.commands import digest

        return digest.run(
            history_url=args.history_url,
            days=args.days,
            fmt=args.format,
            repositories=args.repositories,
            publish=args.publish,
            platform=args.platform,
            config_path=args.config,
        )
    if args.command == "rules":
        from pipeline_guard.cli.commands import rules

        if args.rules_command == "test":
            return rules.run_tests(args.dirs, args.bundled, cache=cache)
        return rules.list_rules(args.rules, args.format, args.bundled, cache=cache)
    if args.command == "train":
        from pipeline_guard.cli.commands import train

        return train.run(args.corpora, args.output, args.rules, args.bundled, args, cache=cache)
    from pipeline_guard.cli.commands import evaluate

    return evaluate.run(
        corpus_dir=args.corpus,
        rule_dirs=args.rules,
        fmt=args.format,
        show_misses=args.misses,
        bundled=args.bundled,
        model_path=args.model,
        use_model=args.use_model,
        folds=args.cv,
        train_also=args.train_also,
        cache=cache,
        use_baseline=args.use_baseline,
        ablation=args.ablation,
    )


CHATTY = frozenset({"run", "digest"})
"""Commands whose libraries log (PyGithub, python-gitlab, urllib3, httpx, SQLAlchemy)."""


def quiet_libraries(verbose: bool) -> None:
    """Library loggers (PyGithub's "Request ... failed with 403", urllib3's retries) print
    nothing unless ``--verbose``: pipeline-guard says what failed once, in its own words.

    A level switch rather than handlers: PyGithub attaches its own stderr handler at INFO when
    it is imported (lazily, long after this runs), so only ``logging.disable`` reaches it.
    Only the commands that talk to a forge or a database (:data:`CHATTY`), or ``--verbose``,
    import ``logging``: ``analyze`` of a small log must start fast, and logging was a tenth
    of its imports."""
    import logging

    if verbose:
        logging.disable(logging.NOTSET)
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    else:
        logging.disable(logging.WARNING)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    def command() -> int:
        arguments = sys.argv[1:] if argv is None else list(argv)
        parser = _parser()
        if not arguments:
            parser.print_help()
            return 0
        args = parser.parse_args(arguments)
        if args.command is None:  # only --version-like options: argparse handled them
            parser.print_help()
            return 0
        verbose = getattr(args, "verbose", False)
        if verbose or args.command in CHATTY:
            quiet_libraries(verbose)
        return _dispatch(args, os.environ if env is None else env)

    return run_guarded(command)


def console_main() -> NoReturn:
    """The console script: exit with what :func:`main` returns."""
    sys.exit(main())
