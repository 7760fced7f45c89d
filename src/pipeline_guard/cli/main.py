"""The ``pipeline-guard`` command line: parse arguments and dispatch, nothing else.

Each sub-command lives in :mod:`pipeline_guard.cli.commands`; expected failures become one line and
an exit code in :mod:`pipeline_guard.cli.error_handler` (2 for usage and configuration errors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pipeline_guard import __version__
from pipeline_guard.cli.error_handler import run_guarded
from pipeline_guard.cli.render import FORMATS
from pipeline_guard.engine.prefilter import engine_name
from pipeline_guard.errors import UsageError


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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pipeline-guard", description="Diagnose failed CI jobs from their logs.")
    parser.add_argument("--version", action=_Version, help="show the version and the engine")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    analyze = commands.add_parser("analyze", help="diagnose CI log files")
    analyze.add_argument("files", nargs="*", metavar="FILE", help="log files, or - for stdin")
    analyze.add_argument("--format", choices=FORMATS, default="text")
    analyze.add_argument(
        "--baseline",
        metavar="GOOD.log",
        help="log of a green run of the same job: lines also found there are not the cause",
    )
    _add_rules_option(analyze)
    _add_model_option(analyze)

    _add_run_parser(commands)

    rules = commands.add_parser("rules", help="test or list rules")
    rule_commands = rules.add_subparsers(
        dest="rules_command", metavar="ACTION", parser_class=_Parser
    )
    rule_commands.required = True
    rules_test = rule_commands.add_parser("test", help="run every rule's examples")
    rules_test.add_argument(
        "dirs", nargs="*", type=Path, metavar="DIR", help="test only these rule folders or files"
    )
    _add_bundled_option(rules_test)
    rules_list = rule_commands.add_parser("list", help="list the loaded rules")
    rules_list.add_argument("--format", choices=("text", "json"), default="text")
    _add_rules_option(rules_list)

    evaluate = commands.add_parser("eval", help="score diagnoses on a labelled corpus")
    evaluate.add_argument("corpus", type=Path, metavar="CORPUS_DIR")
    evaluate.add_argument("--format", choices=("text", "json"), default="text")
    evaluate.add_argument("--misses", action="store_true", help="list every wrong diagnosis")
    evaluate.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="grouped K-fold cross-validation: train a model per fold (needs scikit-learn)",
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

    train = commands.add_parser("train", help="train a model pack on labelled corpora")
    train.add_argument("corpora", nargs="+", type=Path, metavar="CORPUS_DIR")
    train.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, default=40)
    train.add_argument("--folds", type=int, default=5, help="folds of the calibration CV")
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
    return parser


def _add_run_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    run = commands.add_parser(
        "run",
        help="diagnose a failed CI run and retry, comment or open fixes (the CI entry point)",
    )
    run.add_argument("--platform", help="github, gitlab or local (default: detected)")
    run.add_argument("--mode", help="workflow_run, after-job or in-job (GitHub; default: detected)")
    run.add_argument(
        "--log-file",
        dest="log_files",
        action="append",
        default=[],
        metavar="GLOB",
        help="read these log files instead of asking the forge (repeatable; globs allowed)",
    )
    run.add_argument("--config", type=Path, metavar="PATH", help="config file to use")
    dry = run.add_mutually_exclusive_group()
    dry.add_argument("--dry-run", action="store_true", default=None, help="change nothing")
    dry.add_argument("--no-dry-run", dest="dry_run", action="store_false")
    run.add_argument("--no-comment", dest="comment", action="store_false", default=None)
    run.add_argument("--report", type=Path, metavar="PATH", help="JSON report file to write")
    run.add_argument("--workspace", type=Path, metavar="DIR", help="the checked-out repository")
    _add_rules_option(run)
    _add_model_option(run)


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, metavar="PATH", help="model pack to use instead of the bundled one"
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


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "analyze":
        from pipeline_guard.cli.commands import analyze

        return analyze.run(
            sources=args.files,
            fmt=args.format,
            rule_dirs=args.rules,
            bundled=args.bundled,
            model_path=args.model,
            use_model=args.use_model,
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
        )
    if args.command == "rules":
        from pipeline_guard.cli.commands import rules

        if args.rules_command == "test":
            return rules.run_tests(args.dirs, args.bundled)
        return rules.list_rules(args.rules, args.format, args.bundled)
    if args.command == "train":
        from pipeline_guard.cli.commands import train

        return train.run(args.corpora, args.output, args.rules, args.bundled, args)
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
        use_baseline=args.use_baseline,
        ablation=args.ablation,
    )


def main(argv: Sequence[str] | None = None) -> int:
    def command() -> int:
        args = _parser().parse_args(argv)
        return _dispatch(args)

    return run_guarded(command)


def console_main() -> NoReturn:
    """The console script: exit with what :func:`main` returns."""
    sys.exit(main())
