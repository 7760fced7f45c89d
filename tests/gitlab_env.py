"""What a GitLab CI job gets, for tests that run pipeline-guard as GitLab runs it.

- :func:`render_component`: a component file with its inputs interpolated the way GitLab does
  it (``spec:inputs`` validated: unknown names, types, ``regex``; a ``$[[ inputs.x ]]`` that is
  a whole YAML string keeps the input's type, one inside a longer string is text).
- :func:`gitlab_env`: the predefined ``CI_*`` variables of a branch or merge request pipeline,
  plus the guard job's own variables from the rendered template, expanded against the
  project's CI/CD variables with GitLab's precedence (project variables win over the job's).
- :func:`run_guard`: the template's own ``pipeline-guard run`` command line, as a subprocess.
- :func:`private_network`: a fake GitLab API that only processes entered into a private
  network namespace can reach (the pipeline tests run gitlab-ci-local in there).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from fakes.gitlab_api import GITLAB_TOKEN, FakeGitLab

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "pipeline-guard.yml"
ROOT_COMPONENT = REPO / ".gitlab-ci-component.yml"

PROJECT_ID = 7
PROJECT_PATH = "acme/shop"
PIPELINE_ID = 4242
HEAD_SHA = "c0ffee" + "0" * 34
JOB_ID = 9000
TOKEN = GITLAB_TOKEN
JOB_TOKEN = "glcbt-64_j0bT0kenF0rTheGuardJob9z"  # CI_JOB_TOKEN's shape since GitLab 17.x

_BLOCK = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "array": (list,),
}


class InputError(ValueError):
    """An include's inputs that GitLab would refuse (the pipeline would not be created)."""


@dataclass
class GuardRun:
    """A finished guard job: what the job log shows, and the artifact."""

    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    @property
    def log(self) -> str:
        """The job log: GitLab interleaves stdout and stderr in one trace."""
        return self.stdout + self.stderr


# -- the component -----------------------------------------------------------------------


def split_component(text: str) -> tuple[dict[str, Any], str]:
    """The ``spec`` header (empty when the file has none) and the configuration body."""
    documents = text.split("\n---\n", 1)
    if len(documents) == 1:
        return {}, text
    header = yaml.safe_load(documents[0]) or {}
    return dict(header.get("spec") or {}), documents[1]


def render_component(path: Path, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration ``path`` adds to a pipeline when included with ``inputs``."""
    spec, body = split_component(path.read_text(encoding="utf-8"))
    values = input_values(spec.get("inputs") or {}, inputs or {})
    config = _interpolate(yaml.safe_load(body), values)
    assert isinstance(config, dict), f"{path}: the configuration must be a mapping"
    return config


def input_values(declared: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Each declared input's value: given, else its default; checked like GitLab checks them."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputError(f"unknown input name provided: {unknown}")
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        options = declaration or {}
        if name in given:
            value = given[name]
        elif "default" in options:
            value = options["default"]
        else:
            raise InputError(f"`{name}` input: required value has not been provided")
        kind = options.get("type", "string")
        if not isinstance(value, _TYPES[kind]) or (kind == "number" and isinstance(value, bool)):
            raise InputError(f"`{name}` input: provided value is not a {kind}")
        if "options" in options and value not in options["options"]:
            raise InputError(f"`{name}` input: `{value}` cannot be used because it is not in")
        if "regex" in options and not re.search(options["regex"], str(value)):
            raise InputError(f"`{name}` input: provided value does not match required RegEx")
        values[name] = value
    return values


def _interpolate(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {_interpolate(k, values): _interpolate(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, values) for item in node]
    if not isinstance(node, str):
        return node
    whole = _BLOCK.fullmatch(node.strip())
    if whole:
        return values[_known(whole.group(1), values)]
    return _BLOCK.sub(lambda m: _text(values[_known(m.group(1), values)]), node)


def _known(name: str, values: Mapping[str, Any]) -> str:
    if name not in values:
        raise InputError(f"unknown interpolation key: `{name}`")
    return name


def _text(value: Any) -> str:
    """An input inside a longer string, as Ruby's ``to_s`` writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def component_job(
    inputs: Mapping[str, Any] | None = None, path: Path = TEMPLATE
) -> tuple[str, dict[str, Any]]:
    """The one job the component defines: its name and its keys."""
    config = render_component(path, inputs)
    jobs = {name: job for name, job in config.items() if isinstance(job, dict) and "script" in job}
    assert len(jobs) == 1, f"{path} must define exactly one job, found {sorted(jobs)}"
    return next(iter(jobs.items()))


def expand(value: str, variables: Mapping[str, str]) -> str:
    """A variable's value with ``$NAME``/``${NAME}`` references expanded; an undefined one
    is empty (the runner's expansion), ``$$`` is a literal ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return variables.get(match.group(1) or match.group(2), "")

    return _REFERENCE.sub(one, value)


def job_environment(
    job: Mapping[str, Any], predefined: Mapping[str, str], project: Mapping[str, str]
) -> dict[str, str]:
    """The environment GitLab gives the job: predefined variables, the job's variables
    (scalars become strings, references are expanded) and the project's CI/CD variables,
    which take precedence over variables defined in the YAML."""
    env = dict(predefined)
    known = {**predefined, **project}
    for name, raw in (job.get("variables") or {}).items():
        value = _text(raw) if not isinstance(raw, str) else raw
        env[name] = expand(value, known)
    env.update(project)
    return env


# -- a guard job's environment -------------------------------------------------------------


def gitlab_env(
    fake: FakeGitLab | str,
    workdir: Path,
    *,
    mr_iid: int | None = None,
    branch: str = "feature",
    project_variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, Any] | None = None,
    job_token: str | None = JOB_TOKEN,
) -> dict[str, str]:
    """Everything the guard job's script sees, for a pipeline of ``branch`` (a merge request
    pipeline when ``mr_iid`` is given). ``project_variables`` are the project's CI/CD
    variables; by default the masked ``PIPELINE_GUARD_TOKEN`` holding the ``api`` token."""
    server = fake if isinstance(fake, str) else fake.url
    parts = urlsplit(server)
    job_name, job = component_job(inputs)
    project_url = f"{server}/{PROJECT_PATH}"
    predefined = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(workdir)),
        "PIPELINE_GUARD_CACHE_DIR": os.environ.get("PIPELINE_GUARD_CACHE_DIR", "off"),
        "PIPELINE_GUARD_DEADLINE": "60",
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER": "yes",
        "CI_SERVER_URL": server,
        "CI_SERVER_PROTOCOL": parts.scheme,
        "CI_SERVER_HOST": parts.hostname or "",
        "CI_SERVER_PORT": str(parts.port or 443),
        "CI_SERVER_FQDN": parts.netloc,
        "CI_API_V4_URL": f"{server}/api/v4",
        "CI_PROJECT_ID": str(PROJECT_ID),
        "CI_PROJECT_PATH": PROJECT_PATH,
        "CI_PROJECT_NAME": PROJECT_PATH.rpartition("/")[2],
        "CI_PROJECT_NAMESPACE": PROJECT_PATH.rpartition("/")[0],
        "CI_PROJECT_URL": project_url,
        "CI_PROJECT_DIR": str(workdir),
        "CI_BUILDS_DIR": str(workdir.parent),
        "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_ID": str(PIPELINE_ID),
        "CI_PIPELINE_IID": "17",
        "CI_PIPELINE_URL": f"{project_url}/-/pipelines/{PIPELINE_ID}",
        "CI_PIPELINE_CREATED_AT": "2026-01-05T09:00:00Z",
        "CI_COMMIT_SHA": HEAD_SHA,
        "CI_COMMIT_SHORT_SHA": HEAD_SHA[:8],
        "CI_COMMIT_REF_NAME": branch,
        "CI_COMMIT_REF_SLUG": re.sub(r"[^a-z0-9]", "-", branch.lower()),
        "CI_JOB_ID": str(JOB_ID),
        "CI_JOB_NAME": job_name,
        "CI_JOB_NAME_SLUG": job_name,
        "CI_JOB_STAGE": str(job.get("stage", "")),
        "CI_JOB_STATUS": "running",
        "CI_JOB_URL": f"{project_url}/-/jobs/{JOB_ID}",
        "CI_JOB_TOKEN": job_token or "",
        "CI_JOB_IMAGE": str((job.get("image") or {}).get("name", "")),
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": job_token or "",
    }
    if mr_iid is None:
        predefined |= {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": branch}
    else:
        predefined |= {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_ID": str(50_000 + mr_iid),
            "CI_MERGE_REQUEST_IID": str(mr_iid),
            "CI_MERGE_REQUEST_PROJECT_ID": str(PROJECT_ID),
            "CI_MERGE_REQUEST_PROJECT_PATH": PROJECT_PATH,
            "CI_MERGE_REQUEST_PROJECT_URL": project_url,
            "CI_MERGE_REQUEST_REF_PATH": f"refs/merge-requests/{mr_iid}/head",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch,
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": str(PROJECT_ID),
            "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": PROJECT_PATH,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
            "CI_MERGE_REQUEST_TITLE": f"Change {branch}",
            "CI_OPEN_MERGE_REQUESTS": f"{PROJECT_PATH}!{mr_iid}",
        }
    project = {"PIPELINE_GUARD_TOKEN": TOKEN} if project_variables is None else project_variables
    return job_environment(job, predefined, project)


def guard_command(inputs: Mapping[str, Any] | None = None) -> list[str]:
    """The template's ``pipeline-guard run ...`` line, split as the shell splits it."""
    _, job = component_job(inputs)
    lines = [line for line in job["script"] if line.startswith("pipeline-guard ")]
    assert len(lines) == 1, f"the job must run pipeline-guard once, found {lines}"
    return shlex.split(lines[0])


def run_guard(env: Mapping[str, str], cwd: Path, *extra: str) -> GuardRun:
    """The job's ``pipeline-guard run`` command, as a fresh process in ``cwd``."""
    command = guard_command()
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline_guard", *command[1:], *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(env),
        timeout=120,
        check=False,
    )
    report_file = cwd / command[command.index("--report") + 1]
    return GuardRun(
        returncode=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        report=json.loads(report_file.read_text()) if report_file.is_file() else None,
    )


# -- a private network for the pipeline tests -------------------------------------------

_CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def private_network(
    server: type[FakeGitLab], *args: Any, **kwargs: Any
) -> Iterator[tuple[FakeGitLab, list[str]]]:
    """A started ``server(*args, **kwargs)`` listening on 127.0.0.1 of a new network namespace
    (loopback only), and the command prefix (``nsenter ...``) that runs a process in there.

    The namespace is created by a short-lived thread (``unshare`` changes only the calling
    thread's namespace); the listening socket and an open handle keep it alive after the
    thread ends. Needs root, like ``unshare -n`` in ../shared/tools/gcl-run.sh.
    """
    made: dict[str, Any] = {}

    def make() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) != 0:
            made["error"] = os.strerror(ctypes.get_errno())
            return
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        made["server"] = server(*args, **kwargs)
        made["fd"] = os.open("/proc/thread-self/ns/net", os.O_RDONLY)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if "error" in made:
        raise RuntimeError(
            f"cannot create a network namespace ({made['error']}): the pipeline tests need root"
        )
    fd: int = made["fd"]
    try:
        with made["server"] as fake:
            yield fake, ["nsenter", f"--net=/proc/{os.getpid()}/fd/{fd}"]
    finally:
        os.close(fd)
