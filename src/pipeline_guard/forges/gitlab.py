"""GitLab: the pipeline's context from the ``CI_*`` variables, and the API calls the guard needs.

Built on python-gitlab. ``CI_JOB_TOKEN`` cannot list a pipeline's jobs, read their traces,
retry them or write MR notes, so the guard needs a project/group access token (or a bot's
personal token) with ``api`` scope. The component hands its ``token`` input over as
``INPUT_TOKEN`` (see ``templates/pipeline-guard.yml`` for why not as ``PIPELINE_GUARD_TOKEN``);
``PIPELINE_GUARD_TOKEN`` and ``GITLAB_TOKEN`` are read next, for the root
``.gitlab-ci-component.yml`` and for other setups. A value that is still a variable reference
(``$PIPELINE_GUARD_TOKEN``: the variable it names is not defined) counts as no token. Without
one, the job token is tried for reading and every refusal says exactly which token to create.
Every call goes through :func:`GitLabForge._call`, which turns GitLab's answers into one-line
:class:`~pipeline_guard.errors.ForgeError` messages.

Merge requests from forks: a pipeline for a fork's MR runs in the fork (``CI_PROJECT_ID``) unless
a maintainer runs it in the parent project, while the MR itself belongs to the target project
(``CI_MERGE_REQUEST_PROJECT_ID``). The MR's IID is used only when the pipeline runs in the MR's
project, so the note never lands on an unrelated MR of the fork with the same number.
"""

from __future__ import annotations

import base64
import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.errors import ForgeError, PermissionMissing, TokenMissing
from pipeline_guard.forges.base import (
    FailedJob,
    FixRequest,
    PastJob,
    RunOptions,
    RunState,
)
from pipeline_guard.forges.resilience import Deadline, backoff, deadline_from, retry_wait

NAME = "gitlab"
TIMEOUT = 15
ATTEMPTS = 3
JOB_PAGES = 3  # pages of 100 project jobs read for flaky evidence (newest first)
CONCLUSION = {"failed": "failure", "success": "success", "canceled": "cancelled"}
T = TypeVar("T")
TOKEN_VARIABLES = ("INPUT_TOKEN", "PIPELINE_GUARD_TOKEN", "GITLAB_TOKEN")
_UNEXPANDED = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
TOKEN_HELP = (
    "create a project access token with the `api` scope and the Developer role "
    "(Settings > Access tokens), save it as a masked CI/CD variable, and pass it as the "
    "component's `token` input (or the PIPELINE_GUARD_TOKEN variable)"
)


def detect(env: Mapping[str, str]) -> bool:
    """GitLab sets ``GITLAB_CI=true`` in every job."""
    return env.get("GITLAB_CI") == "true"


def read_context(env: Mapping[str, str], options: RunOptions) -> RunContext:
    """The failing pipeline from the predefined ``CI_*`` variables."""
    server = env.get("CI_SERVER_URL", "https://gitlab.com").rstrip("/")
    project_id = env.get("CI_PROJECT_ID")
    pipeline = env.get("CI_PIPELINE_ID")
    token = _token(env)
    return RunContext(
        platform=Platform.GITLAB,
        mode=Mode.PIPELINE,
        repository=env.get("CI_PROJECT_PATH", ""),
        project_id=project_id,
        api_url=env.get("CI_API_V4_URL", f"{server}/api/v4").rstrip("/"),
        server_url=server,
        run_id=int(pipeline) if pipeline and pipeline.isdigit() else None,
        run_url=env.get("CI_PIPELINE_URL"),
        event_name=env.get("CI_PIPELINE_SOURCE", ""),
        head_sha=env.get("CI_COMMIT_SHA"),
        head_branch=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_BRANCH"),
        default_branch=env.get("CI_DEFAULT_BRANCH"),
        pr_number=_merge_request_iid(env),
        from_fork=_from_fork(env),
        own_job=env.get("CI_JOB_NAME"),
        log_files=options.log_files,
        workspace=options.workspace,
        token=SecretStr(token) if token else None,
        fix_token=SecretStr(token) if token else None,
        job_token=SecretStr(env["CI_JOB_TOKEN"]) if env.get("CI_JOB_TOKEN") else None,
        deadline=deadline_from(env),
    )


def _token(env: Mapping[str, str]) -> str | None:
    """The first token variable that holds a value (not a reference left unexpanded)."""
    for name in TOKEN_VARIABLES:
        value = (env.get(name) or "").strip()
        if value and not _UNEXPANDED.fullmatch(value):
            return value
    return None


def _merge_request_iid(env: Mapping[str, str]) -> int | None:
    """The MR's IID, when the MR lives in the project this pipeline runs in."""
    iid = env.get("CI_MERGE_REQUEST_IID")
    if not iid or not iid.isdigit():
        return None
    mr_project = env.get("CI_MERGE_REQUEST_PROJECT_ID")
    if mr_project and env.get("CI_PROJECT_ID") and mr_project != env.get("CI_PROJECT_ID"):
        return None  # a fork's pipeline: the IID numbers an MR of the parent project
    return int(iid)


def _from_fork(env: Mapping[str, str]) -> bool:
    """Whether the MR comes from another project than the one it targets. An MR pipeline that
    does not say where its source is counts as a fork (fail closed: no fix MR from it)."""
    if not env.get("CI_MERGE_REQUEST_IID"):
        return False  # a branch pipeline: no merge request, no fork
    source = env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
    target = env.get("CI_MERGE_REQUEST_PROJECT_ID") or env.get("CI_PROJECT_ID")
    return not (source and target and source == target)


def publish(env: Mapping[str, str], summary: str, outputs: Mapping[str, str]) -> None:
    """GitLab has no job summary: the report is already in the job log (printed by the guard),
    and the JSON report file is the job's artifact when the component declares it."""


def connect(context: RunContext) -> GitLabForge:
    return GitLabForge(context)


class GitLabForge:
    """The guard's verbs on GitLab's REST API (v4)."""

    def __init__(self, context: RunContext, deadline: Deadline | None = None) -> None:
        import gitlab  # noqa: PLC0415 - heavy, only when needed

        self.context = context
        self.deadline = deadline or Deadline(context.deadline)
        base = context.api_url.removesuffix("/api/v4")
        if context.token is None and context.job_token is None:
            raise TokenMissing(f"no GitLab API token was given: {TOKEN_HELP}")
        self.gitlab = gitlab.Gitlab(
            url=base,
            private_token=context.token.get_secret_value() if context.token else None,
            job_token=None
            if context.token or not context.job_token
            else _reveal(context.job_token),
            timeout=TIMEOUT,
            per_page=100,
        )
        self.gitlab.session.hooks["response"].append(self._bound_retry_after)
        self.project = self.gitlab.projects.get(context.project_id or context.repository, lazy=True)

    def _bound_retry_after(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """python-gitlab waits out a 429 itself, for as long as ``Retry-After`` says, and
        reads it with ``int()``. Rewrite it before python-gitlab sees it: whole seconds (an
        HTTP date from a proxy in front of GitLab would raise ValueError), at most a minute,
        and never past the run's forge time budget."""
        if response.status_code == 429:
            wait = retry_wait(429, response.headers, 0) or 1.0
            response.headers["Retry-After"] = str(math.ceil(self.deadline.cap(wait)))
        return response

    # -- reading -------------------------------------------------------------------------

    def failed_jobs(self) -> list[FailedJob]:
        """The latest try of each failed job; ``attempt`` counts its tries so far. All jobs are
        listed (not ``scope=failed``): a job whose retry passed must not count as failed."""
        if self.context.run_id is None:
            raise ForgeError("no pipeline id: CI_PIPELINE_ID is not set")
        pipeline = self.project.pipelines.get(self.context.run_id, lazy=True)
        jobs = self._call(
            "list the pipeline's jobs",
            lambda: [
                job.attributes for job in pipeline.jobs.list(include_retried=True, iterator=True)
            ],
        )
        return latest_failed(jobs, self.context.own_job)

    def fetch_log(self, job: FailedJob, dest: Path, max_bytes: int | None = None) -> Path | None:
        from gitlab.exceptions import GitlabGetError  # noqa: PLC0415

        def save() -> Path | None:
            try:
                with dest.open("wb") as handle:

                    def write(chunk: bytes) -> None:
                        handle.write(chunk)
                        self.deadline.check(f"reading the trace of `{job.name}` (still arriving)")

                    writer = _CappedWriter(write, max_bytes)
                    self.project.jobs.get(job.id, lazy=True).trace(
                        streamed=True, action=writer, chunk_size=1 << 20
                    )
            except _Enough:
                return dest
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            return dest

        return self._call("read job traces", save)

    def fetch_past_log(self, job: PastJob, dest: Path, max_bytes: int) -> Path | None:
        return self.fetch_log(job.as_failed_job(), dest, max_bytes)

    def find_change_request(self) -> int | None:
        """The MR of this pipeline: named by the MR pipeline, else the open MR whose source is
        this branch of this project (a fork's MR from a branch of the same name is not ours)."""
        if self.context.pr_number is not None:
            return self.context.pr_number
        branch = self.context.head_branch
        if not branch:
            return None
        project_id = self.context.project_id

        def by_branch() -> int | None:
            for mr in self.project.mergerequests.list(
                source_branch=branch, state="opened", iterator=True
            ):
                source = getattr(mr, "source_project_id", None)
                if source is not None and project_id and str(source) != project_id:
                    continue
                return int(mr.iid)
            return None

        return self._call("find the merge request", by_branch)

    # -- history (see forges.base.History) -----------------------------------------------

    def branch_runs(
        self, branch: str, limit: int, *, pushes_only: bool = True
    ) -> list[tuple[int, str | None, str | None]]:
        """Finished pipelines for ``branch``, newest first. Merge request pipelines run for
        ``refs/merge-requests/N/head``, never for the branch, so ``pushes_only`` changes
        nothing here; they are left out in any case."""

        def pipelines() -> list[dict[str, Any]]:
            found = self.project.pipelines.list(
                ref=branch, scope="finished", order_by="id", sort="desc", per_page=limit, page=1
            )
            return [p.attributes for p in found]

        found = self._call("read the pipeline history", pipelines)
        return [
            (int(p["id"]), p.get("web_url"), p.get("sha"))
            for p in found
            if p.get("source") != "merge_request_event"
        ][:limit]

    def run_jobs(self, run_id: int) -> list[PastJob]:
        """The newest try of each job of the pipeline; ``attempt`` counts its tries."""
        pipeline = self.project.pipelines.get(run_id, lazy=True)
        jobs = self._call(
            "read the pipeline history",
            lambda: [j.attributes for j in pipeline.jobs.list(include_retried=True, iterator=True)],
        )
        tries: dict[str, int] = {}
        newest: dict[str, Mapping[str, Any]] = {}
        for job in sorted(jobs, key=lambda j: int(j["id"])):
            tries[str(job.get("name"))] = tries.get(str(job.get("name")), 0) + 1
            newest[str(job.get("name"))] = job
        return [_past_job(job, tries[name]) for name, job in newest.items()]

    def flips(self, since: datetime, limit: int) -> list[tuple[PastJob, PastJob]]:
        """Project jobs since ``since`` (retried tries included), newest first: a job that
        failed and a later try of the same name in the same pipeline that passed."""

        def recent() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for page in range(1, JOB_PAGES + 1):
                batch = self.project.jobs.list(scope=["failed", "success"], per_page=100, page=page)
                found += [job.attributes for job in batch]
                oldest = _time(found[-1].get("created_at")) if found else None
                if len(batch) < 100 or (oldest is not None and oldest < since):
                    break
            return found

        jobs = [
            job
            for job in self._call("read the pipeline history", recent)
            if (_time(job.get("created_at")) or since) >= since
        ]
        return _retry_flips(jobs)[:limit]

    def run_state(self, run_id: int) -> RunState | None:
        pipeline = self._call(
            "read the pipeline history", lambda: self.project.pipelines.get(run_id).attributes
        )
        status = str(pipeline.get("status"))
        finished = status in ("success", "failed", "canceled", "skipped")
        return RunState(
            run_id=run_id,
            attempt=1,
            conclusion=CONCLUSION.get(status, status) if finished else None,
        )

    # -- the digest issue ----------------------------------------------------------------

    def upsert_issue(self, title: str, marker: str, body: str) -> str:
        """Create the one issue whose description carries ``marker``, or edit it in place."""

        def upsert() -> str:
            for issue in self.project.issues.list(state="opened", iterator=True):
                if marker in (issue.description or ""):
                    issue.title, issue.description = title, body
                    issue.save()
                    return str(issue.web_url)
            return str(self.project.issues.create({"title": title, "description": body}).web_url)

        return self._call("keep the digest issue", upsert)

    # -- acting --------------------------------------------------------------------------

    def retry(self, jobs: Sequence[FailedJob]) -> None:
        for job in jobs:
            self._call("retry jobs", self._retrier(job.id))

    def _retrier(self, job_id: int) -> Callable[[], object]:
        return lambda: self.project.jobs.get(job_id, lazy=True).retry()

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        """Edit our note (the newest that carries the marker and that we may edit), else create
        one. Only a note's author may edit it: a note with the marker written by someone else
        (a quote, or a note left by an earlier token's user) answers 403 and is passed over."""

        def upsert() -> str:
            url = self._edit_marked(number, marker, lambda _old: body)
            if url is not None:
                return url
            mr = self.project.mergerequests.get(number, lazy=True)
            created = mr.notes.create({"body": body})
            return self._note_url(number, int(created.id))

        return self._call("comment on the merge request", upsert)

    def edit_comment(self, number: int, marker: str, edit: Callable[[str], str]) -> str | None:
        return self._call(
            "comment on the merge request", lambda: self._edit_marked(number, marker, edit)
        )

    def _edit_marked(self, number: int, marker: str, edit: Callable[[str], str]) -> str | None:
        """Edit our note carrying ``marker``: only one the token's user wrote (anyone can write
        the marker; ``GET /user`` names the token's user, a project access token's bot user).
        A 403 on the edit is still passed over (the author check cannot see every case)."""
        from gitlab.exceptions import GitlabUpdateError  # noqa: PLC0415

        self.gitlab.auth()
        me = getattr(self.gitlab.user, "id", None)
        mr = self.project.mergerequests.get(number, lazy=True)
        for note in mr.notes.list(iterator=True):
            if getattr(note, "system", False) or marker not in (note.body or ""):
                continue
            if me is None or (getattr(note, "author", None) or {}).get("id") != me:
                continue
            note.body = edit(note.body)
            try:
                note.save()
            except GitlabUpdateError as exc:
                if exc.response_code == 403 and "insufficient_scope" not in str(exc.error_message):
                    continue
                raise
            return self._note_url(number, int(note.id))
        return None

    def _note_url(self, iid: int, note_id: int) -> str:
        base = f"{self.context.server_url}/{self.context.repository}"
        return f"{base}/-/merge_requests/{iid}#note_{note_id}"

    def open_fix(self, fix: FixRequest) -> str:
        """One commit on ``fix.branch`` (recreated from the base each time, ``force``), then
        the MR: found by its source branch on a second run, else created."""
        self._call("push the fix branch", lambda: self.project.commits.create(_commit(fix)))
        return self._call("open the fix merge request", lambda: self._merge_request(fix))

    def _merge_request(self, fix: FixRequest) -> str:
        for mr in self.project.mergerequests.list(
            source_branch=fix.branch, state="opened", iterator=True
        ):
            mr.description = fix.body
            mr.save()
            return str(mr.web_url)
        mr = self.project.mergerequests.create(
            {
                "source_branch": fix.branch,
                "target_branch": fix.base_branch,
                "title": f"Draft: {fix.title}" if fix.draft else fix.title,
                "description": fix.body,
                "labels": ",".join(fix.labels),
                "remove_source_branch": True,
            }
        )
        return str(mr.web_url)

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run one API action with a few bounded retries for 5xx and connection errors;
        turn GitLab's failures into a message a user can act on.

        python-gitlab's own ``retry_transient_errors`` is left off: its backoff follows
        ``RateLimit-Reset``, which GitLab sends on every response, so one 502 could sleep for
        a minute. 429 is left to python-gitlab, which honours ``Retry-After``.
        """
        from gitlab.exceptions import GitlabError  # noqa: PLC0415
        from requests import RequestException  # noqa: PLC0415

        for attempt in range(ATTEMPTS):
            try:
                return self.deadline.run(what, action)
            except GitlabError as exc:
                status = exc.response_code or 0
                if status < 500 or attempt == ATTEMPTS - 1:
                    raise self._error(what, status, exc.error_message) from None
            except RequestException as exc:
                if attempt == ATTEMPTS - 1:
                    raise ForgeError(
                        f"could not reach the GitLab API at {self.context.api_url} to {what}: "
                        f"{type(exc).__name__}"
                    ) from None
            time.sleep(self.deadline.cap(backoff(attempt)))
        raise AssertionError("unreachable")

    def _error(self, what: str, status: int | None, message: Any) -> ForgeError:
        detail = f" ({message})" if message else ""
        using_job_token = self.context.token is None
        if status in (401, 403, 404) and using_job_token:
            return TokenMissing(f"CI_JOB_TOKEN cannot {what}{detail}: {TOKEN_HELP}")
        if status == 401:
            return TokenMissing(f"GitLab rejected the token (401{detail}): {TOKEN_HELP}")
        if status == 403:
            return _forbidden(what, detail, str(message))
        if status == 404:
            return ForgeError(f"GitLab answered 404 when trying to {what}{detail}")
        return ForgeError(f"GitLab API error {status} when trying to {what}{detail}")


def _forbidden(what: str, detail: str, message: str) -> ForgeError:
    """A 403: a token without the ``api`` scope, a job GitLab will not retry, or a role."""
    if "insufficient_scope" in message:
        return PermissionMissing(
            f"the token cannot {what}: it needs the `api` scope (it has only `read_api` "
            f"or `read_repository`); {TOKEN_HELP}",
            "api",
        )
    if "not retryable" in message:
        return ForgeError(
            f"GitLab refused to {what}{detail}: a job that was already retried, or whose "
            "pipeline is archived, cannot be retried again"
        )
    return PermissionMissing(
        f"the token cannot {what}{detail}: its user needs at least the Developer role "
        "in the project (and the `api` scope)",
        "Developer",
    )


def latest_failed(jobs: Iterable[Mapping[str, Any]], own_job: str | None) -> list[FailedJob]:
    """Each job name's newest try, if it failed and may not fail; tries counted per name."""
    tries: dict[str, int] = {}
    newest: dict[str, Mapping[str, Any]] = {}
    for job in jobs:
        name = str(job.get("name"))
        tries[name] = tries.get(name, 0) + 1
        if name not in newest or int(job["id"]) > int(newest[name]["id"]):
            newest[name] = job
    return [
        FailedJob(
            id=int(job["id"]),
            name=name,
            url=job.get("web_url"),
            attempt=tries[name],
            duration=float(job["duration"]) if job.get("duration") is not None else None,
        )
        for name, job in sorted(newest.items(), key=lambda item: int(item[1]["id"]))
        if job.get("status") == "failed" and not job.get("allow_failure") and name != own_job
    ]


class _Enough(Exception):
    """Raised by :class:`_CappedWriter` to stop a streamed trace at its cap."""


class _CappedWriter:
    """Writes chunks until ``cap`` bytes are written, then stops the stream."""

    def __init__(self, write: Callable[[bytes], object], cap: int | None) -> None:
        self.write, self.cap, self.written = write, cap, 0

    def __call__(self, chunk: bytes) -> None:
        part = chunk if self.cap is None else chunk[: self.cap - self.written]
        self.write(part)
        self.written += len(part)
        if self.cap is not None and self.written >= self.cap:
            raise _Enough


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _past_job(job: Mapping[str, Any], attempt: int = 1) -> PastJob:
    pipeline = job.get("pipeline") or {}
    web_url = str(job.get("web_url") or "")
    project_url = web_url.partition("/-/jobs/")[0]
    return PastJob(
        id=int(job["id"]),
        name=str(job.get("name")),
        conclusion=CONCLUSION.get(str(job.get("status")), str(job.get("status"))),
        run_id=int(pipeline.get("id") or 0),
        attempt=attempt,
        sha=pipeline.get("sha") or (job.get("commit") or {}).get("id"),
        branch=pipeline.get("ref") or job.get("ref"),
        url=web_url or None,
        run_url=f"{project_url}/-/pipelines/{pipeline.get('id')}" if project_url else None,
        created_at=_time(job.get("created_at")),
        duration=float(job["duration"]) if job.get("duration") is not None else None,
    )


def _retry_flips(jobs: Iterable[Mapping[str, Any]]) -> list[tuple[PastJob, PastJob]]:
    """(failed, passed) pairs: in one pipeline, a failed try and the next try that passed."""
    tries: dict[tuple[int, str], list[Mapping[str, Any]]] = {}
    for job in sorted(jobs, key=lambda j: int(j["id"])):
        key = (int((job.get("pipeline") or {}).get("id") or 0), str(job.get("name")))
        tries.setdefault(key, []).append(job)
    pairs = []
    for same in tries.values():
        for number, (first, second) in enumerate(itertools.pairwise(same), start=1):
            if first.get("status") == "failed" and second.get("status") == "success":
                pairs.append((_past_job(first, number), _past_job(second, number + 1)))
    return sorted(pairs, key=lambda pair: -pair[0].id)


def _reveal(secret: SecretStr) -> str:
    return secret.get_secret_value()


def _commit(fix: FixRequest) -> dict[str, Any]:
    actions: list[dict[str, Any]] = []
    for change in fix.changes:
        if change.content is None:
            actions.append({"action": "delete", "file_path": change.path})
            continue
        actions.append(
            {
                "action": "create" if change.created else "update",
                "file_path": change.path,
                "content": base64.b64encode(change.content).decode(),
                "encoding": "base64",
            }
        )
        if change.created and change.executable:
            # `execute_filemode` is read by the `chmod` action only; an update keeps the mode.
            actions.append({"action": "chmod", "file_path": change.path, "execute_filemode": True})
    commit: dict[str, Any] = {
        "branch": fix.branch,
        "commit_message": fix.commit_message,
        "actions": actions,
        "force": True,
    }
    if fix.base_sha:
        commit["start_sha"] = fix.base_sha
    else:
        commit["start_branch"] = fix.base_branch
    return commit
