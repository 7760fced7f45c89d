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
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import SecretStr

from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.errors import ConfigError, ForgeError, PermissionMissing, TokenMissing
from pipeline_guard.forges.base import COMMENT_MARKER, FailedJob, FixRequest, RunOptions
from pipeline_guard.forges.download import stream_to_file
from pipeline_guard.forges.resilience import Deadline

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
}


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
        self.deadline = deadline or Deadline()
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

    def fetch_log(self, job: FailedJob, dest: Path) -> Path | None:
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
            lambda: stream_to_file(blob_url, dest, self.deadline),
        )
        return dest

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

    # -- acting --------------------------------------------------------------------------

    def retry(self, jobs: Sequence[FailedJob]) -> None:
        """One job: re-run it alone. Several: re-run the run's failed jobs in one call (GitHub
        refuses a second single-job re-run while the first one runs)."""
        if len(jobs) == 1:
            url = f"{self.repo.url}/actions/jobs/{jobs[0].id}/rerun"
        else:
            url = f"{self.repo.url}/actions/runs/{self.context.run_id}/rerun-failed-jobs"
        self._call("re-run jobs", lambda: self.github.requester.requestJsonAndCheck("POST", url))

    def upsert_comment(self, number: int, body: str) -> str:
        comments_url = f"{self.repo.url}/issues/{number}/comments"
        requester = self.github.requester

        def upsert() -> str:
            ours = self._comment_author()
            for comment in self._paginated_raw(comments_url, None):
                if COMMENT_MARKER in (comment.get("body") or "") and ours(comment.get("user")):
                    _, data = requester.requestJsonAndCheck(
                        "PATCH", str(comment["url"]), input={"body": body}
                    )
                    return str(data.get("html_url") or comment.get("html_url"))
            _, data = requester.requestJsonAndCheck("POST", comments_url, input={"body": body})
            return str(data.get("html_url"))

        return self._call("comment on the pull request", upsert)

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

    def _paginated_raw(self, url: str, item_key: str | None) -> Iterator[dict[str, Any]]:
        """Raw JSON items of a paginated list, following ``Link: rel="next"``."""
        requester = self.github.requester
        next_url: str | None = url
        params: dict[str, Any] | None = {"per_page": 100}
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
