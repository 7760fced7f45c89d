"""The real pipeline: gitlab-ci-local (``../shared/tools/gcl-run.sh``, shell executor) runs the
example pipelines of ``examples/gitlab/``, which include pipeline-guard in each of the three
ways a project can (``include: component:``, ``include: local:`` with inputs, ``include:
project:`` of the root file). A job fails for real; the guard job runs after it, in ``.post``,
and talks to the fake GitLab API.

How the pieces meet:

- The pipeline runs in a private network namespace with only a loopback interface, and so does
  the fake GitLab API (``gitlab_env.private_network``): nothing can reach a real network, and
  the guard reaches the fake on 127.0.0.1.
- The fake knows the pipeline's jobs (the test declares them, as GitLab would list them), and
  serves as each job's trace the log gitlab-ci-local wrote for it while it ran.
- The scratch checkout has the files a component project has (``templates/``, the root file,
  the examples) committed on a branch, with an ``origin`` whose path is the fake's project.
  gitlab-ci-local reads ``CI_PROJECT_PATH`` and the branch from git; the server's URL, the
  project and pipeline ids and the masked ``PIPELINE_GUARD_TOKEN`` are passed as variables,
  as GitLab would set them.
- ``pipeline-guard`` comes from this checkout's virtualenv, put first on PATH (the shell
  executor runs jobs on the host; in GitLab the image provides it, or the job installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, SHARED
from fakes.gitlab_api import GITLAB_READ_TOKEN, GITLAB_TOKEN, FakeGitLab
from fakes.http_server import Request, Response
from gitlab_env import (
    HEAD_SHA,
    PIPELINE_ID,
    PROJECT_ID,
    PROJECT_PATH,
    component_job,
    private_network,
)
from pipeline_guard.forges.base import COMMENT_MARKER

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

GCL = SHARED / "tools" / "gcl-run.sh"
VENV_BIN = Path(sys.executable).parent
EXAMPLES = REPO / "examples" / "gitlab"
COMPONENT_PROJECT = "pipeline-guard/pipeline-guard"  # what examples/gitlab/project.* includes


class PipelineFake(FakeGitLab):
    """The fake GitLab API's view of the pipeline gitlab-ci-local runs: a job's trace is the
    log gitlab-ci-local wrote for it (``.gitlab-ci-local/output/<job>.log``), read when the
    guard asks for it."""

    def __init__(self, output_dir: Path) -> None:
        tokens = {GITLAB_TOKEN: {"api"}, GITLAB_READ_TOKEN: {"read_api"}}
        super().__init__(tokens, usernames={GITLAB_TOKEN: "guard-bot"})
        self.output_dir = output_dir

    def dispatch(self, request: Request) -> Response:
        if request.method == "GET" and request.path.endswith("/trace"):
            with self._lock:
                for project in self.projects.values():
                    for job in project.jobs.values():
                        log = self.output_dir / f"{job.name}.log"
                        if log.is_file():
                            job.trace = log.read_bytes()
        return super().dispatch(request)


@dataclass
class PipelineRun:
    """What gitlab-ci-local printed, and what the guard job left."""

    returncode: int
    output: str
    guard_log: str
    report: dict[str, Any] | None
    expanded: dict[str, Any]


@pytest.fixture(scope="module")
def gitlab_ci_local(tmp_path_factory: pytest.TempPathFactory) -> None:
    """gitlab-ci-local installed (npm, first use only), before any run in a private network."""
    for tool in ("node", "npm", "git", "unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"the GitLab pipeline tests need `{tool}` (gitlab-ci-local needs Node 20)")
    scratch = tmp_path_factory.mktemp("gcl-setup")
    subprocess.run(["git", "init", "-q", "-b", "main", str(scratch)], check=True)
    completed = subprocess.run(
        [str(GCL), "--version"],
        cwd=scratch,
        env={**os.environ, "OFFLINE": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"gitlab-ci-local could not be installed or started:\n{completed.stderr}")


def component_checkout(root: Path) -> Path:
    """A clone of the component project's files on branch ``feature`` of ``acme/shop``."""
    checkout = root / "shop"
    (checkout / "examples").mkdir(parents=True)
    shutil.copytree(REPO / "templates", checkout / "templates")
    shutil.copy(REPO / ".gitlab-ci-component.yml", checkout)
    shutil.copytree(EXAMPLES, checkout / "examples" / "gitlab")
    git = ["git", "-C", str(checkout), "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    origin = f"git@gitlab.example.com:{PROJECT_PATH}.git"
    subprocess.run([*git, "remote", "add", "origin", origin], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Add the pipeline"], check=True)
    subprocess.run([*git, "update-ref", "refs/remotes/origin/main", "HEAD"], check=True)
    subprocess.run([*git, "remote", "set-head", "origin", "main"], check=True)
    subprocess.run([*git, "checkout", "-q", "-b", "feature"], check=True)
    return checkout


def serve_component_project(checkout: Path, root: Path) -> Path:
    """A bare repository standing in for the component's project, for `include: project:`."""
    repos = root / "git"
    bare = repos / f"{COMPONENT_PROJECT}.git"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(checkout), str(bare)], check=True)
    return repos


def seed(fake: FakeGitLab, failing: str, guard: str) -> int:
    """The project, the branch's MR and the pipeline gitlab-ci-local is about to run: `build`
    passes, ``failing`` fails, ``guard`` (the guard's own job) runs. Returns the failing id."""
    fake.add_project(PROJECT_ID, PROJECT_PATH, files={"README.md": "# shop\n"})
    fake.add_branch(PROJECT_ID, "feature")
    fake.add_merge_request(PROJECT_ID, 3, source_branch="feature", sha=HEAD_SHA)
    fake.add_pipeline(PROJECT_ID, PIPELINE_ID, ref="feature", sha=HEAD_SHA, source="push")
    fake.add_job(PROJECT_ID, PIPELINE_ID, job_id=300, name="build", stage="build", status="success")
    fake.add_job(PROJECT_ID, PIPELINE_ID, job_id=301, name=failing, stage="test", trace=None)
    fake.add_job(PROJECT_ID, PIPELINE_ID, job_id=302, name=guard, stage=".post", status="running")
    return 301


def run_pipeline(
    checkout: Path, example: str, netns: list[str], server: str, guard: str, **env: str
) -> PipelineRun:
    """``gcl-run.sh --file examples/gitlab/<example>`` inside the private network."""
    variables = {
        "CI_SERVER_URL": server,
        "CI_API_V4_URL": f"{server}/api/v4",
        "CI_PROJECT_ID": str(PROJECT_ID),
        "CI_PIPELINE_ID": str(PIPELINE_ID),
        "PIPELINE_GUARD_TOKEN": GITLAB_TOKEN,  # the project's masked CI/CD variable
    }
    command = [*netns, str(GCL), "--file", f"examples/gitlab/{example}"]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    completed = subprocess.run(
        command,
        cwd=checkout,
        env={
            **os.environ,
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
            "OFFLINE": "0",  # already in the private network
            "GCL_IGNORE_PREDEFINED_VARS": ",".join(
                sorted(set(variables) - {"PIPELINE_GUARD_TOKEN"})
            ),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order gitlab-ci-local wrote it
        text=True,
        timeout=300,
        check=False,
    )
    state = checkout / ".gitlab-ci-local"
    guard_log = state / "output" / f"{guard}.log"
    report = checkout / "pipeline-guard-report.json"
    expanded = state / "expanded-gitlab-ci.yml"
    return PipelineRun(
        returncode=completed.returncode,
        output=completed.stdout,
        guard_log=guard_log.read_text() if guard_log.is_file() else "",
        report=json.loads(report.read_text()) if report.is_file() else None,
        expanded=yaml.safe_load(expanded.read_text()) if expanded.is_file() else {},
    )


def ran_after(output: str, failed: str, guard: str) -> bool:
    """The failed job finished (FAIL) before the guard job started, in .post."""
    failed_at = re.search(rf"\] {re.escape(failed)} +finished in .* FAIL", output)
    guard_at = re.search(rf"\] {re.escape(guard)} +starting shell \(\.post\)", output)
    return bool(failed_at and guard_at and failed_at.start() < guard_at.start())


def job_passed(output: str, name: str) -> bool:
    return re.search(rf"^ PASS +\[[^]]*\] {re.escape(name)}\s*$", output, re.MULTILINE) is not None


def same_job(expanded: dict[str, Any], name: str, inputs: dict[str, Any]) -> bool:
    """gitlab-ci-local's rendering of the included job is the one tests/gitlab_env.py makes."""
    mine_name, mine = component_job(inputs)
    theirs = dict(expanded[name])

    def text(job: dict[str, Any]) -> dict[str, Any]:
        variables = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in job["variables"].items()
        }
        return {**job, "variables": variables}

    return mine_name == name and text(theirs) == text(mine)


def test_component_include_retries_the_failed_job_and_notes_the_mr(
    gitlab_ci_local: None, tmp_path: Path
) -> None:
    checkout = component_checkout(tmp_path)
    with private_network(PipelineFake, checkout / ".gitlab-ci-local" / "output") as (fake, netns):
        failing = seed(fake, "install", "pipeline-guard")
        run = run_pipeline(checkout, "component.gitlab-ci.yml", netns, fake.url, "pipeline-guard")
        notes = [note.body for note in fake.notes(PROJECT_ID, 3)]
        retried = fake.retried
        errors = fake.handler_errors

    assert errors == []
    assert run.returncode == 1, run.output  # the pipeline failed: `install` failed
    assert ran_after(run.output, "install", "pipeline-guard"), run.output
    assert job_passed(run.output, "pipeline-guard"), run.output
    assert retried == [failing]
    [note] = notes
    assert note.startswith(COMMENT_MARKER)
    assert "`network`" in note
    assert "Re-ran `install`" in note
    assert "### pipeline-guard: 1 failed job" in run.guard_log
    assert GITLAB_TOKEN not in run.output + run.guard_log
    assert run.report is not None
    assert [job["name"] for job in run.report["jobs"]] == ["install"]
    assert run.report["pull_request"] == 3
    assert same_job(run.expanded, "pipeline-guard", {"token": "$PIPELINE_GUARD_TOKEN"})


def test_local_include_with_inputs_explains_a_test_failure(
    gitlab_ci_local: None, tmp_path: Path
) -> None:
    checkout = component_checkout(tmp_path)
    inputs = {"token": "$PIPELINE_GUARD_TOKEN", "job-name": "ci-doctor", "comment": True}
    with private_network(PipelineFake, checkout / ".gitlab-ci-local" / "output") as (fake, netns):
        seed(fake, "unit-tests", "ci-doctor")
        run = run_pipeline(checkout, "local.gitlab-ci.yml", netns, fake.url, "ci-doctor")
        notes = [note.body for note in fake.notes(PROJECT_ID, 3)]
        retried = fake.retried

    assert run.returncode == 1, run.output
    assert ran_after(run.output, "unit-tests", "ci-doctor"), run.output
    assert job_passed(run.output, "ci-doctor"), run.output
    assert retried == []
    [note] = notes
    assert "`test-failure`" in note
    assert "tests/test_billing.py::test_invoice_totals" in note
    assert same_job(run.expanded, "ci-doctor", {**inputs, "dry-run": False})


def test_project_include_of_the_root_file_runs_a_dry_run(
    gitlab_ci_local: None, tmp_path: Path
) -> None:
    checkout = component_checkout(tmp_path)
    repos = serve_component_project(checkout, tmp_path)
    with private_network(PipelineFake, checkout / ".gitlab-ci-local" / "output") as (fake, netns):
        seed(fake, "install", "pipeline-guard")
        run = run_pipeline(
            checkout,
            "project.gitlab-ci.yml",
            netns,
            fake.url,
            "pipeline-guard",
            FAKE_GIT_ROOT=str(repos),
        )
        writes = [r for r in fake.requests if r.method != "GET"]

    assert run.returncode == 1, run.output
    assert ran_after(run.output, "install", "pipeline-guard"), run.output
    assert job_passed(run.output, "pipeline-guard"), run.output
    assert writes == []
    assert "Would re-run `install` (dry run)" in run.guard_log
    assert run.expanded["pipeline-guard"]["variables"]["PIPELINE_GUARD_DRY_RUN"] == "true"
