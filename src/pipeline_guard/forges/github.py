"""GitHub: the run's context from the Actions environment, and the REST calls the guard needs.

Built on PyGithub; httpx streams a job log from the short-lived blob URL that
``GET /actions/jobs/{id}/logs`` redirects to, without our token (the blob host must not see
it). Every call goes through :func:`_call`, which turns GitHub's answers into one-line
:class:`~pipeline_guard.errors.ForgeError` messages that name the missing permission.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import SecretStr

from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.errors import ConfigError, ForgeError, PermissionMissing, TokenMissing
from pipeline_guard.forges.base import (
    FailedJob,
    FixRequest,
    PastJob,
    RunOptions,
    RunState,
)
from pipeline_guard.forges.download import stream_to_file
from pipeline_guard.forges.resilience import Deadline, deadline_from

NAME = "github"
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})
PULL_PAGES = 10  # open PRs scanned for a fork PR's head SHA (x100): enough, and bounded
TIMEOUT = 15
T = TypeVar("T")
NO_CI_NOTE = (
    "\n\n> [!NOTE]\n> This PR was opened with the workflow's GITHUB_TOKEN, so GitHub does not "
    "start its checks. Close and reopen it to run CI, or give pipeline-guard a `fix-token` "
    "(a PAT or GitHub App token)."
)

# What each call needs, in the words of a workflow's `permissions:` block.
PERMISSION = {
    "list jobs": "actions: read",
    "read job logs": "actions: read",
    "read annotations": "checks: read",
    "re-run jobs": "actions: write",
    "find the pull request": "pull-requests: read",
    "comment on the pull request": "pull-requests: write",
    "push the fix branch": "contents: write",
    "open the fix pull request": "pull-requests: write",
    "read the workflow's history": "actions: read",
    "keep the digest issue": "issues: write",
}
PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
RUN_PAGES = 2  # pages of 100 runs read for flaky evidence: 200 runs, two calls


def detect(env: Mapping[str, str]) -> bool:
    """GitHub Actions sets ``GITHUB_ACTIONS=true`` in every job and container action."""
    return env.get("GITHUB_ACTIONS") == "true"


def read_context(env: Mapping[str, str], options: RunOptions) -> RunContext:
    """The failing run from ``GITHUB_*`` variables and the event payload."""
    event = _read_event(env.get("GITHUB_EVENT_PATH"))
    event_name = env.get("GITHUB_EVENT_NAME", "")
    mode = _mode(options, event_name)
    repository = env.get("GITHUB_REPOSITORY") or _dig(event, "repository", "full_name") or ""
    common: dict[str, Any] = {
        "platform": Platform.GITHUB,
        "mode": mode,
        "repository": repository,
        "api_url": env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        "server_url": env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
        "event_name": event_name,
        "default_branch": _dig(event, "repository", "default_branch"),
        "own_job": env.get("GITHUB_JOB"),
        "log_files": options.log_files,
        "workspace": options.workspace,
        "token": _secret(env.get("INPUT_GITHUB-TOKEN") or env.get("GITHUB_TOKEN")),
        "fix_token": _secret(env.get("INPUT_FIX-TOKEN")),
        "deadline": deadline_from(env),
    }
    if mode == Mode.WORKFLOW_RUN:
        return RunContext(**common, **_workflow_run_fields(event, repository))
    return RunContext(**common, **_current_run_fields(env, event, repository))


def _mode(options: RunOptions, event_name: str) -> Mode:
    if options.mode:
        try:
            return Mode(options.mode)
        except ValueError:
            allowed = ", ".join(m.value for m in (Mode.WORKFLOW_RUN, Mode.AFTER_JOB, Mode.IN_JOB))
            raise ConfigError(f"mode: {options.mode!r} is not one of {allowed}") from None
    if event_name == "workflow_run":
        return Mode.WORKFLOW_RUN
    return Mode.IN_JOB if options.log_files else Mode.AFTER_JOB


def _workflow_run_fields(event: Mapping[str, Any], repository: str) -> dict[str, Any]:
    run = event.get("workflow_run")
    if not isinstance(run, dict):
        raise ConfigError(
            "the event is `workflow_run` but its payload has no workflow_run object "
            "(is GITHUB_EVENT_PATH the event file GitHub wrote?)"
        )
    pulls = run.get("pull_requests") or []
    head_repo = _dig(run, "head_repository", "full_name")
    return {
        "run_id": run.get("id"),
        "run_attempt": run.get("run_attempt") or 1,
        "run_url": run.get("html_url"),
        "workflow": run.get("name"),
        "run_number": run.get("run_number"),
        "conclusion": run.get("conclusion"),
        "head_sha": run.get("head_sha"),
        "head_branch": run.get("head_branch"),
        "pr_number": pulls[0].get("number") if pulls else None,
        "from_fork": head_repo != repository,  # unknown head repository: a fork (fail closed)
    }


def _current_run_fields(
    env: Mapping[str, str], event: Mapping[str, Any], repository: str
) -> dict[str, Any]:
    pull = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else None
    head_repo = _dig(pull, "head", "repo", "full_name") if pull else None
    run_id = env.get("GITHUB_RUN_ID")
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return {
        "run_id": int(run_id) if run_id and run_id.isdigit() else None,
        "run_attempt": int(env.get("GITHUB_RUN_ATTEMPT") or 1),
        "run_url": f"{server}/{repository}/actions/runs/{run_id}" if run_id else None,
        "workflow": env.get("GITHUB_WORKFLOW") or None,
        "run_number": int(number)
        if (number := env.get("GITHUB_RUN_NUMBER", "")).isdigit()
        else None,
        "head_sha": _dig(pull, "head", "sha") if pull else env.get("GITHUB_SHA"),
        "head_branch": _dig(pull, "head", "ref") if pull else env.get("GITHUB_REF_NAME"),
        "pr_number": pull.get("number") if pull else None,
        "from_fork": pull is not None and head_repo != repository,  # unknown: a fork
    }


def _read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"GITHUB_EVENT_PATH: {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"GITHUB_EVENT_PATH: {path}: not a JSON event file ({exc})") from None
    return event if isinstance(event, dict) else {}


def _dig(data: Mapping[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def publish(env: Mapping[str, str], summary: str, outputs: Mapping[str, str]) -> None:
    """Append the job summary and the step outputs through the runner's file commands."""
    summary_path = env.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as handle:
            handle.write(summary.rstrip("\n") + "\n")
    output_path = env.get("GITHUB_OUTPUT")
    if output_path:
        with open(output_path, "a", encoding="utf-8") as handle:
            for name, value in outputs.items():
                delimiter = f"ghadelimiter_{uuid.uuid4()}"
                handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def connect(context: RunContext) -> GitHubForge:
    """A forge for the run in ``context``; a missing token is a clear error, not a 401."""
    if context.token is None:
        raise TokenMissing(
            "no GitHub token was given: set the action's `github-token` input (its default is "
            "`${{ github.token }}`), or GITHUB_TOKEN outside the action"
        )
    return GitHubForge(context)


class GitHubForge:
    """The guard's verbs on GitHub's REST API."""

    def __init__(self, context: RunContext, deadline: Deadline | None = None) -> None:
        from github import Auth, Github  # noqa: PLC0415 - heavy, only when needed

        assert context.token is not None
        self.context = context
        self.deadline = deadline or Deadline(context.deadline)
        retry = _deadline_retry(self.deadline)
        self._token = context.token.get_secret_value()
        self.github = Github(
            base_url=context.api_url,
            auth=Auth.Token(self._token),
            timeout=TIMEOUT,
            retry=retry,
            per_page=100,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self.repo = self.github.get_repo(context.repository, lazy=True)
        self._workflow: int | None = None

    # -- reading -------------------------------------------------------------------------

    def failed_jobs(self) -> list[FailedJob]:
        run_id = self.context.run_id
        if run_id is None:
            raise ForgeError("no run id: GITHUB_RUN_ID is not set and the event names no run")
        url = f"{self.repo.url}/actions/runs/{run_id}/attempts/{self.context.run_attempt}/jobs"
        jobs = self._call("list jobs", lambda: list(self._paginated_raw(url, "jobs")))
        failed = [job for job in jobs if job.get("conclusion") in FAILED_CONCLUSIONS]
        return [self._failed_job(job) for job in failed if job.get("name") != self.context.own_job]

    def _failed_job(self, job: Mapping[str, Any]) -> FailedJob:
        steps = job.get("steps") or []
        failed_step = next((s.get("name") for s in steps if s.get("conclusion") == "failure"), None)
        return FailedJob(
            id=int(job["id"]),
            name=str(job.get("name") or job["id"]),
            url=job.get("html_url"),
            attempt=int(job.get("run_attempt") or self.context.run_attempt),
            step=failed_step,
            annotations=self._annotations(job.get("check_run_url")),
            duration=_duration(job),
        )

    def _annotations(self, check_run_url: str | None) -> tuple[str, ...]:
        """Failure annotations: the only trace of failures before any step ran."""
        if not check_run_url:
            return ()
        try:
            items = self._call(
                "read annotations",
                lambda: list(self._paginated_raw(f"{check_run_url}/annotations", None)),
            )
        except PermissionMissing:
            return ()
        return tuple(
            str(item.get("message") or "")
            for item in items
            if item.get("annotation_level") == "failure" and item.get("message")
        )

    def fetch_log(self, job: FailedJob, dest: Path, max_bytes: int | None = None) -> Path | None:
        url = f"{self.repo.url}/actions/jobs/{job.id}/logs"

        def location() -> str | None:
            from github import GithubException  # noqa: PLC0415

            try:
                headers, _ = self.github.requester.requestBlobAndCheck("GET", url)
            except GithubException as exc:
                if exc.status in (404, 410):
                    return None
                raise
            return headers.get("location")

        blob_url = self._call("read job logs", location)
        if blob_url is None:
            return None
        self.deadline.run(
            f"download the log of `{job.name}`",
            lambda: stream_to_file(blob_url, dest, self.deadline, max_bytes=max_bytes),
        )
        return dest

    def fetch_past_log(self, job: PastJob, dest: Path, max_bytes: int) -> Path | None:
        return self.fetch_log(job.as_failed_job(), dest, max_bytes)

    def find_change_request(self) -> int | None:
        if self.context.pr_number is not None:
            return self.context.pr_number
        sha = self.context.head_sha
        if not sha:
            return None

        def by_head_sha() -> int | None:
            pulls = self.repo.get_pulls(state="open", sort="updated", direction="desc")
            for index, pull in enumerate(pulls):
                if index >= PULL_PAGES * 100:
                    break
                if pull.head.sha == sha:
                    return int(pull.number)
            return None

        return self._call("find the pull request", by_head_sha)

    # -- history (see forges.base.History) -----------------------------------------------

    def _workflow_id(self) -> int:
        """The failing run's workflow: history is looked up in that workflow only."""
        if self._workflow is None:
            run = self._call(
                "read the workflow's history", lambda: self._get_run(self.context.run_id)
            )
            self._workflow = int(run["workflow_id"])
        return self._workflow

    def _get_run(self, run_id: int | None) -> dict[str, Any]:
        if run_id is None:
            raise ForgeError("no run id: GITHUB_RUN_ID is not set and the event names no run")
        _, data = self.github.requester.requestJsonAndCheck(
            "GET", f"{self.repo.url}/actions/runs/{run_id}"
        )
        return dict(data)

    def _workflow_runs(self, query: dict[str, Any], pages: int) -> list[dict[str, Any]]:
        url = f"{self.repo.url}/actions/workflows/{self._workflow_id()}/runs"
        wanted = pages * int(query.get("per_page", 100))
        runs: list[dict[str, Any]] = []
        for run in self._paginated_raw(url, "workflow_runs", query):
            runs.append(run)
            if len(runs) >= wanted:
                break  # before the generator asks for the next page
        return runs

    def branch_runs(
        self, branch: str, limit: int, *, pushes_only: bool = True
    ) -> list[tuple[int, str | None, str | None]]:
        """Completed runs of this workflow on ``branch``; with ``pushes_only``, those a push or
        schedule started (a PR's runs on a branch of that name say nothing about the branch)."""
        query = {"branch": branch, "status": "completed", "per_page": limit}
        runs = self._call("read the workflow's history", lambda: self._workflow_runs(query, 1))
        return [
            (int(run["id"]), run.get("html_url"), run.get("head_sha"))
            for run in runs
            if not pushes_only or run.get("event") not in PR_EVENTS
        ][:limit]

    def run_jobs(self, run_id: int) -> list[PastJob]:
        url = f"{self.repo.url}/actions/runs/{run_id}/jobs"
        jobs = self._call(
            "read the workflow's history", lambda: list(self._paginated_raw(url, "jobs"))
        )
        return [_past_job(job) for job in jobs]

    def flips(self, since: datetime, limit: int) -> list[tuple[PastJob, PastJob]]:
        """Runs of this workflow since ``since`` that needed more than one attempt; in each,
        a job whose attempt N failed and attempt N+1 passed (same run: same commit)."""
        # Newest first, the window applied here: the description types `created` as one
        # date-time, not the `>=DATE` search syntax the docs describe, so it is not sent.
        query = {"per_page": 100}
        runs = self._call(
            "read the workflow's history", lambda: self._workflow_runs(query, RUN_PAGES)
        )
        recent = [run for run in runs if (_time(run.get("created_at")) or since) >= since]
        retried = [run for run in recent if int(run.get("run_attempt") or 1) > 1][:limit]
        pairs: list[tuple[PastJob, PastJob]] = []
        for run in retried:
            jobs = self._call("read the workflow's history", self._every_attempt(int(run["id"])))
            pairs += _attempt_flips([_past_job(job) for job in jobs])
        return pairs

    def _every_attempt(self, run_id: int) -> Callable[[], list[dict[str, Any]]]:
        url = f"{self.repo.url}/actions/runs/{run_id}/jobs"
        return lambda: list(self._paginated_raw(url, "jobs", {"filter": "all"}))

    def run_state(self, run_id: int) -> RunState | None:
        run = self._call("read the workflow's history", lambda: self._get_run(run_id))
        return RunState(
            run_id=run_id,
            attempt=int(run.get("run_attempt") or 1),
            conclusion=run.get("conclusion") if run.get("status") == "completed" else None,
        )

    # -- the digest issue ----------------------------------------------------------------

    def upsert_issue(self, title: str, marker: str, body: str) -> str:
        """Create the one issue whose body carries ``marker``, or edit it in place."""
        url = f"{self.repo.url}/issues"
        requester = self.github.requester

        def upsert() -> str:
            query = {"state": "open", "per_page": 100}
            for issue in self._paginated_raw(url, None, query):
                if "pull_request" not in issue and marker in (issue.get("body") or ""):
                    _, data = requester.requestJsonAndCheck(
                        "PATCH", f"{url}/{issue['number']}", input={"title": title, "body": body}
                    )
                    return str(data.get("html_url"))
            _, data = requester.requestJsonAndCheck(
                "POST", url, input={"title": title, "body": body}
            )
            return str(data.get("html_url"))

        return self._call("keep the digest issue", upsert)

    # -- acting --------------------------------------------------------------------------

    def retry(self, jobs: Sequence[FailedJob]) -> None:
        """One job: re-run it alone. Several: re-run the run's failed jobs in one call (GitHub
        refuses a second single-job re-run while the first one runs)."""
        if len(jobs) == 1:
            url = f"{self.repo.url}/actions/jobs/{jobs[0].id}/rerun"
        else:
            url = f"{self.repo.url}/actions/runs/{self.context.run_id}/rerun-failed-jobs"
        self._call("re-run jobs", lambda: self.github.requester.requestJsonAndCheck("POST", url))

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        comments_url = f"{self.repo.url}/issues/{number}/comments"

        def upsert() -> str:
            url = self._edit_marked(comments_url, marker, lambda _old: body)
            if url is not None:
                return url
            _, data = self.github.requester.requestJsonAndCheck(
                "POST", comments_url, input={"body": body}
            )
            return str(data.get("html_url"))

        return self._call("comment on the pull request", upsert)

    def edit_comment(self, number: int, marker: str, edit: Callable[[str], str]) -> str | None:
        comments_url = f"{self.repo.url}/issues/{number}/comments"
        return self._call(
            "comment on the pull request", lambda: self._edit_marked(comments_url, marker, edit)
        )

    def _edit_marked(
        self, comments_url: str, marker: str, edit: Callable[[str], str]
    ) -> str | None:
        """Edit our newest comment carrying ``marker``: only one our own identity wrote."""
        ours = self._comment_author()
        for comment in self._paginated_raw(comments_url, None):
            old = comment.get("body") or ""
            if marker in old and ours(comment.get("user")):
                _, data = self.github.requester.requestJsonAndCheck(
                    "PATCH", str(comment["url"]), input={"body": edit(old)}
                )
                return str(data.get("html_url") or comment.get("html_url"))
        return None

    def _comment_author(self) -> Callable[[Any], bool]:
        """Whether a comment's ``user`` is the identity this token posts as: only our own
        comment is edited, never one that merely quotes the marker (anyone can write it).

        An installation token (``ghs_``: ``GITHUB_TOKEN`` or a GitHub App's) posts as a bot,
        ``github-actions[bot]`` or ``<app>[bot]``, and cannot ask ``GET /user`` who it is, so
        a comment counts as ours when a bot wrote it (a person cannot post as one). Any other
        token (a PAT) is a user: ``GET /user`` names it, and only that login counts."""
        if self._token.startswith("ghs_"):
            return lambda user: isinstance(user, dict) and user.get("type") == "Bot"
        _, me = self.github.requester.requestJsonAndCheck("GET", f"{self.context.api_url}/user")
        login = me.get("login")
        return lambda user: isinstance(user, dict) and bool(login) and user.get("login") == login

    def open_fix(self, fix: FixRequest) -> str:
        """Push one commit to ``fix.branch`` through the git database API, then open or find
        the PR. A second run with the same fix finds the open PR and moves its branch.

        With a ``fix-token``, the push and the PR use it: it may change workflow files (which
        GITHUB_TOKEN cannot) and its PRs start CI (GITHUB_TOKEN's do not: the PR body says so).
        """
        if self.context.fix_token is not None:
            as_fixer = self.context.model_copy(
                update={"token": self.context.fix_token, "fix_token": None}
            )
            return GitHubForge(as_fixer, self.deadline)._open_fix(fix, starts_ci=True)
        return self._open_fix(fix, starts_ci=False)

    def _open_fix(self, fix: FixRequest, *, starts_ci: bool) -> str:
        if not starts_ci:
            fix = fix.model_copy(update={"body": fix.body + NO_CI_NOTE})
        base_sha = fix.base_sha or self._call(
            "push the fix branch",
            lambda: self.repo.get_git_ref(f"heads/{fix.base_branch}").object.sha,
        )
        commit_sha = self._call("push the fix branch", lambda: self._commit(fix, base_sha))
        self._call("push the fix branch", lambda: self._move_branch(fix.branch, commit_sha))
        return self._call("open the fix pull request", lambda: self._pull_for(fix))

    def _commit(self, fix: FixRequest, base_sha: str) -> str:
        from github import InputGitTreeElement  # noqa: PLC0415

        base = self.repo.get_git_commit(base_sha)
        elements = []
        for change in fix.changes:
            mode = "100755" if change.executable else "100644"
            if change.content is None:
                elements.append(InputGitTreeElement(change.path, mode, "blob", sha=None))
                continue
            blob = self.repo.create_git_blob(base64.b64encode(change.content).decode(), "base64")
            elements.append(InputGitTreeElement(change.path, mode, "blob", sha=blob.sha))
        tree = self.repo.create_git_tree(elements, base.tree)
        commit = self.repo.create_git_commit(fix.commit_message, tree, [base])
        return str(commit.sha)

    def _move_branch(self, branch: str, sha: str) -> None:
        """Create the fix branch, or force it to the new commit.

        Plain REST calls: PyGithub's ``GitRef.edit`` on a ref from ``get_git_ref`` PATCHes
        ``/git/ref/...`` (singular), which is not GitHub's update-a-reference endpoint (the
        contract test caught it).
        """
        from github import GithubException  # noqa: PLC0415

        requester = self.github.requester
        quoted = quote(branch, safe="/")
        try:
            requester.requestJsonAndCheck("GET", f"{self.repo.url}/git/ref/heads/{quoted}")
        except GithubException as exc:
            if exc.status != 404:
                raise
            self.repo.create_git_ref(f"refs/heads/{branch}", sha)
            return
        requester.requestJsonAndCheck(
            "PATCH", f"{self.repo.url}/git/refs/heads/{quoted}", input={"sha": sha, "force": True}
        )

    def _pull_for(self, fix: FixRequest) -> str:
        owner = self.context.repository.split("/")[0]
        for pull in self.repo.get_pulls(state="open", head=f"{owner}:{fix.branch}"):
            pull.edit(body=fix.body)
            return str(pull.html_url)
        pull = self.repo.create_pull(
            base=fix.base_branch,
            head=fix.branch,
            title=fix.title,
            body=fix.body,
            draft=fix.draft,
            maintainer_can_modify=True,
        )
        if fix.labels:
            pull.add_to_labels(*fix.labels)
        if fix.reviewers:
            pull.create_review_request(reviewers=list(fix.reviewers))
        return str(pull.html_url)

    # -- plumbing ------------------------------------------------------------------------

    def _paginated_raw(
        self, url: str, item_key: str | None, query: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Raw JSON items of a paginated list, following ``Link: rel="next"``."""
        requester = self.github.requester
        next_url: str | None = url
        params: dict[str, Any] | None = {"per_page": 100, **(query or {})}
        while next_url:
            self.deadline.check("reading from the GitHub API")
            headers, data = requester.requestJsonAndCheck("GET", next_url, parameters=params)
            items = data.get(item_key, []) if item_key else data
            yield from items
            next_url = _next_link(headers.get("link"))
            params = None

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run one API action; turn GitHub's failures into a message a user can act on."""
        from github import GithubException, RateLimitExceededExceedsMaxWait  # noqa: PLC0415
        from requests import RequestException  # noqa: PLC0415

        try:
            return self.deadline.run(what, action)
        except _WaitTooLong as exc:
            raise ForgeError(
                f"GitHub asked to wait {exc.seconds:.0f} s before it could {what}, more than the "
                f"{self.deadline.remaining:.0f} s left of the forge API time budget"
            ) from None
        except RateLimitExceededExceedsMaxWait as exc:
            raise ForgeError(
                f"GitHub API rate limit reached; could not {what} before the deadline "
                f"(reset in {exc.wait:.0f} s)"
            ) from None
        except GithubException as exc:
            raise _forge_error(what, exc.status, exc.data, exc.headers or {}) from None
        except RequestException as exc:
            raise ForgeError(
                f"could not reach the GitHub API at {self.context.api_url} to {what}: "
                f"{type(exc).__name__}"
            ) from None


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _duration(job: Mapping[str, Any]) -> float | None:
    """Seconds the job ran, from its timings (None while it runs)."""
    started, completed = _time(job.get("started_at")), _time(job.get("completed_at"))
    return (completed - started).total_seconds() if started and completed else None


def _past_job(job: Mapping[str, Any]) -> PastJob:
    return PastJob(
        id=int(job["id"]),
        name=str(job.get("name") or job["id"]),
        conclusion=str(job.get("conclusion") or job.get("status") or "unknown"),
        run_id=int(job.get("run_id") or 0),
        attempt=int(job.get("run_attempt") or 1),
        sha=job.get("head_sha"),
        branch=job.get("head_branch"),
        url=job.get("html_url"),
        run_url=str(job.get("html_url") or "").partition("/job/")[0] or None,
        created_at=_time(job.get("created_at")),
        duration=_duration(job),
    )


def _attempt_flips(jobs: Sequence[PastJob]) -> list[tuple[PastJob, PastJob]]:
    """(failed, passed) pairs: a job's attempt failed and its next attempt passed."""
    by_name: dict[str, dict[int, PastJob]] = {}
    for job in jobs:
        by_name.setdefault(job.name, {})[job.attempt] = job
    pairs = []
    for attempts in by_name.values():
        for number, job in attempts.items():
            later = attempts.get(number + 1)
            if job.failed and later is not None and later.passed:
                pairs.append((job, later))
    return pairs


class _WaitTooLong(Exception):
    """GitHub asked for a wait (``Retry-After``, a rate-limit reset) the budget cannot afford."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:.0f} s")
        self.seconds = seconds


def _deadline_retry(deadline: Deadline) -> Any:
    """PyGithub's retry (urllib3's ``Retry``, inside every request) with every sleep bounded by
    the deadline: a ``Retry-After: 3600`` or a backoff longer than what is left of the budget
    ends the call at once (:class:`_WaitTooLong`) instead of sleeping through the run."""
    from github import GithubRetry  # noqa: PLC0415 - heavy, only when needed

    class DeadlineRetry(GithubRetry):
        def sleep(self, response: Any = None) -> None:
            """urllib3's sleep between tries (``Retry-After``, else the backoff, which
            GithubRetry sets to a rate limit's reset time), refused beyond the deadline."""
            wait = None
            if self.respect_retry_after_header and response is not None:
                wait = self.get_retry_after(response)
            if not wait:
                wait = self.get_backoff_time()
            if wait > 0:
                if not deadline.allows_wait(wait):
                    raise _WaitTooLong(wait)
                time.sleep(wait)

    return DeadlineRetry(
        total=3,
        backoff_factor=0.5,
        status_forcelist=[429, 500, 502, 503, 504],
        max_rate_limit_wait=deadline.cap(60.0),
        secondary_rate_wait=5,
        raise_on_status=False,  # after the last retry, GitHub's answer itself is the error
    )


def _next_link(link: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, parsed by requests (PyGithub's transport)."""
    from requests.utils import parse_header_links  # noqa: PLC0415

    return next(
        (item["url"] for item in parse_header_links(link or "") if item.get("rel") == "next"), None
    )


def _forge_error(what: str, status: int, data: Any, headers: Mapping[str, Any]) -> ForgeError:
    """One message per GitHub failure, naming what to change when the token is the cause."""
    message = data.get("message") if isinstance(data, dict) else None
    detail = f" ({message})" if message else ""
    refused = _token_error(what, status, str(message or ""), detail, headers)
    if refused is not None:
        return refused
    if status in (403, 429):
        return ForgeError(f"GitHub API rate limit: could not {what}{detail}")
    if status == 404:
        return ForgeError(
            f"GitHub answered 404 when trying to {what}: the repository, run or PR is not "
            f"visible to this token{detail}"
        )
    return ForgeError(f"GitHub API error {status} when trying to {what}{detail}")


def _token_error(
    what: str, status: int, message: str, detail: str, headers: Mapping[str, Any]
) -> ForgeError | None:
    """The token is rejected or lacks a permission (or a repository setting blocks it)."""
    if status == 401:
        return TokenMissing(f"GitHub rejected the token (401{detail}): check `github-token`")
    if status == 422 and "`workflows` permission" in message:
        return PermissionMissing(
            f"the token cannot {what}: the fix changes .github/workflows/, which needs a token "
            "with the `workflows` permission (GITHUB_TOKEN never has it): pass a PAT or GitHub "
            "App token as the `fix-token` input",
            "workflows",
        )
    if status != 403 or _is_rate_limit(message):
        return None
    if "not permitted to create or approve pull requests" in message:
        return PermissionMissing(
            f"the token cannot {what}: turn on the repository setting Settings > Actions > "
            'General > "Allow GitHub Actions to create and approve pull requests", or pass a '
            "PAT or GitHub App token as `fix-token`",
            "pull-requests: write",
        )
    accepted = _header(headers, "x-accepted-github-permissions")
    permission = _permission_words(accepted) or PERMISSION.get(what, "more permissions")
    return PermissionMissing(
        f"the token cannot {what}: needs `{permission}` in the workflow's `permissions:`{detail}",
        permission,
    )


def _is_rate_limit(message: str | None) -> bool:
    return bool(message) and "rate limit" in str(message).lower()


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _permission_words(accepted: str | None) -> str | None:
    """``actions=write`` (GitHub's header) as ``actions: write`` (the workflow's YAML)."""
    if not accepted:
        return None
    first = accepted.split(";")[0].split(",")[0].strip()
    name, _, level = first.partition("=")
    return f"{name.replace('_', '-')}: {level}" if level else name
