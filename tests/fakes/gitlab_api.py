"""A stateful fake of GitLab's REST API v4, served over real HTTP for python-gitlab and httpx.

Why a real server and not ``responses``: the adapter talks to GitLab through python-gitlab
(requests) and httpx, and what breaks in production is the wire — pagination links, error
bodies, rate-limit headers, streaming, auth headers. The fake answers like gitlab.com where
that matters to pipeline-guard, checked against GitLab's source (``lib/api/*.rb``) and docs:

- Auth: ``PRIVATE-TOKEN`` or ``Authorization: Bearer``. An unknown token is 401
  ``{"message": "401 Unauthorized"}``. A ``read_api`` token on a non-GET request is 403
  ``{"error": "insufficient_scope", ...}`` (checked before the route runs, as APIGuard does).
- ``JOB-TOKEN`` (CI_JOB_TOKEN) is *ignored* on these endpoints (none of them has
  ``job_token_allowed``), so the request is anonymous: 401 on ``/jobs/...`` routes and on any
  write, and 404 ``{"message": "404 Project Not Found"}`` on a GET of a private project. A GET
  without any token behaves the same way (only a bad token is always 401).
- Missing records are ``{"message": "404 Not found"}`` (ActiveRecord), missing projects/branches/
  files name the thing (``404 Project Not Found``), an unknown route is
  ``{"error": "404 Not Found"}`` (GitLab's catch-all route).
- A job with no trace answers 200 with an empty body (``build.trace.raw || ''``).
- The REST job entity has no ``retried`` field: with ``include_retried`` the old and the new
  job are both listed with the same name; the newest is the one with the highest id. The fake
  keeps ``Job.retried`` in its state for assertions only.
- Every response carries ``RateLimit-Limit/-Observed/-Remaining/-Reset/-ResetTime``;
  :meth:`FakeGitLab.throttle` answers 429 ``Retry later`` (text/plain) with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode

import pytest

from fakes.http_server import FakeServer, Request, Response

API = "/api/v4"
PROJECT = rf"{API}/projects/(?P<project>[^/]+)"

GITLAB_TOKEN = "glpat-test"
"""The ``api``-scoped token the ``fake_gitlab`` fixture accepts."""
GITLAB_READ_TOKEN = "glpat-read"
"""The ``read_api``-scoped token the ``fake_gitlab`` fixture accepts."""

NOTE_MAX_CHARS = 1_000_000
JOB_STATUSES = frozenset(
    {
        "created",
        "waiting_for_resource",
        "preparing",
        "waiting_for_callback",
        "pending",
        "running",
        "success",
        "failed",
        "canceling",
        "canceled",
        "skipped",
        "manual",
        "scheduled",
    }
)
RETRYABLE_STATUSES = frozenset({"success", "failed", "canceled"})
MR_STATES = frozenset({"opened", "closed", "locked", "merged", "all"})
COMMIT_ACTIONS = frozenset({"create", "update", "delete", "move", "chmod"})
EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)

PipelineSource = Literal["merge_request_event", "push", "web", "schedule", "api", "trigger"]


class ApiError(Exception):
    """Raised by a handler to answer with GitLab's error status and body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.response = Response(status, body, headers or {})


def _not_found(what: str | None = None) -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found" if what else "404 Not found"})


def _bad_request(message: Any) -> ApiError:
    return ApiError(400, {"message": message})


def _missing(*names: str) -> ApiError:
    """Grape's answer when required params are absent."""
    return ApiError(400, {"error": ", ".join(f"{name} is missing" for name in names)})


@dataclass
class User:
    id: int
    username: str
    name: str

    def json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{base_url}/{self.username}",
        }


@dataclass
class Token:
    """An access token: its scopes and the user it acts as."""

    scopes: frozenset[str]
    user: User


@dataclass
class Commit:
    sha: str
    project_id: int
    message: str
    parent: str | None
    files: dict[str, bytes]
    branch: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    author: User | None = None
    created_at: str = ""

    def json(self, base_url: str, project_path: str) -> dict[str, Any]:
        title = self.message.splitlines()[0] if self.message else ""
        author_name = self.author.name if self.author else "Fake Author"
        author_email = f"{self.author.username}@example.com" if self.author else "a@example.com"
        return {
            "id": self.sha,
            "short_id": self.sha[:8],
            "title": title,
            "message": self.message,
            "author_name": author_name,
            "author_email": author_email,
            "authored_date": self.created_at,
            "committer_name": author_name,
            "committer_email": author_email,
            "committed_date": self.created_at,
            "created_at": self.created_at,
            "parent_ids": [self.parent] if self.parent else [],
            "trailers": {},
            "extended_trailers": {},
            "web_url": f"{base_url}/{project_path}/-/commit/{self.sha}",
        }


@dataclass
class Pipeline:
    id: int
    iid: int
    project_id: int
    ref: str
    sha: str
    source: str
    status: str
    created_at: str


@dataclass
class Job:
    id: int
    project_id: int
    pipeline_id: int
    name: str
    stage: str
    status: str
    trace: bytes | None
    allow_failure: bool
    failure_reason: str | None
    retryable: bool = True
    retried: bool = False  # state only: GitLab's REST job entity does not expose it
    created_at: str = ""
    duration: float = 1.0  # seconds (job timings)


@dataclass
class MergeRequest:
    id: int
    iid: int
    project_id: int
    source_project_id: int
    source_branch: str
    target_branch: str
    sha: str
    state: str
    title: str
    description: str
    labels: list[str]
    author: User
    remove_source_branch: bool = False
    created_at: str = ""
    updated_at: str = ""

    @property
    def draft(self) -> bool:
        lowered = self.title.lower()
        return lowered.startswith(("draft:", "[draft]", "(draft)", "draft "))


@dataclass
class Note:
    id: int
    project_id: int
    mr_iid: int
    mr_id: int
    body: str
    author: User
    created_at: str
    updated_at: str
    system: bool = False

    def json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": None,
            "body": self.body,
            "attachment": None,
            "author": self.author.json(base_url),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "system": self.system,
            "noteable_id": self.mr_id,
            "noteable_type": "MergeRequest",
            "project_id": self.project_id,
            "noteable_iid": self.mr_iid,
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "imported": False,
            "imported_from": "none",
        }


@dataclass
class Issue:
    """A project issue (the digest's)."""

    id: int
    iid: int
    title: str
    description: str
    labels: list[str]
    state: str = "opened"
    created_at: str = ""


@dataclass
class Project:
    id: int
    path: str
    default_branch: str
    visibility: Literal["private", "internal", "public"]
    branches: dict[str, str] = field(default_factory=dict)  # name -> head sha
    commits: dict[str, Commit] = field(default_factory=dict)
    pipelines: dict[int, Pipeline] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    merge_requests: dict[int, MergeRequest] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    issues: dict[int, Issue] = field(default_factory=dict)

    def files_at(self, ref: str) -> dict[str, bytes] | None:
        sha = self.branches.get(ref, ref)
        commit = self.commits.get(sha)
        return commit.files if commit else None


Handler = Callable[[Request, "Caller"], Response]


@dataclass
class Caller:
    """Who is asking: a token's user, or nobody (no token, or a job token GitLab ignores)."""

    user: User | None
    scopes: frozenset[str]


class FakeGitLab(FakeServer):
    """GitLab REST v4 on 127.0.0.1; pass ``url`` to ``gitlab.Gitlab(url=...)`` as is."""

    def __init__(
        self,
        tokens: Mapping[str, Iterable[str]] | None = None,
        *,
        usernames: Mapping[str, str] | None = None,
        rate_limit: int = 2000,
    ) -> None:
        super().__init__()
        # serve_forever polls for shutdown every 0.5 s by default: that is each test's teardown.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._server.handle_error = self._handle_error  # type: ignore[method-assign]
        self.handler_errors: list[BaseException] = []
        self._ids = itertools.count(1000)
        self._clock = itertools.count(0)
        self._tokens: dict[str, Token] = {}
        for number, (value, scopes) in enumerate((tokens or {}).items(), start=1):
            username = (usernames or {}).get(value, f"bot-{number}")
            user = User(id=number, username=username, name=username.replace("-", " ").title())
            self._tokens[value] = Token(frozenset(scopes), user)
        self.projects: dict[int, Project] = {}
        self.rate_limit = rate_limit
        self._observed: dict[int, int] = {}
        self._throttle_left = 0
        self._throttle_retry_after = 1
        self._retried: list[int] = []
        self._api_commits: list[Commit] = []
        self._register_routes()

    def __enter__(self) -> FakeGitLab:
        super().__enter__()
        return self

    # ---------------------------------------------------------------- state API for tests

    def user_for(self, token: str) -> User:
        """The user a configured token acts as (note authors, commit authors)."""
        return self._tokens[token].user

    def add_project(
        self,
        project_id: int = 7,
        path: str = "group/app",
        *,
        default_branch: str = "main",
        files: Mapping[str, bytes | str] | None = None,
        visibility: Literal["private", "internal", "public"] = "private",
    ) -> Project:
        """A project whose default branch holds ``files`` in one initial commit."""
        with self._lock:
            project = Project(project_id, path, default_branch, visibility)
            content = {k: v.encode() if isinstance(v, str) else v for k, v in (files or {}).items()}
            commit = self._new_commit(project, "Initial commit", None, content, default_branch)
            project.branches[default_branch] = commit.sha
            self.projects[project_id] = project
            return project

    def add_branch(self, project: int | str, branch: str, *, ref: str | None = None) -> str:
        """Create ``branch`` at ``ref`` (default branch head); returns its sha."""
        with self._lock:
            proj = self._project_state(project)
            source = ref or proj.default_branch
            sha = proj.branches.get(source, source)
            if sha not in proj.commits:
                raise KeyError(f"unknown ref {source!r}")
            proj.branches[branch] = sha
            return sha

    def add_pipeline(
        self,
        project: int | str,
        pipeline_id: int,
        *,
        ref: str,
        sha: str,
        source: PipelineSource = "merge_request_event",
        status: str = "failed",
        created_at: datetime | None = None,
    ) -> Pipeline:
        """A pipeline; ``created_at`` places it in history (default: the fake's clock)."""
        with self._lock:
            proj = self._project_state(project)
            when = _iso(created_at) if created_at else self._now()
            pipeline = Pipeline(
                pipeline_id, len(proj.pipelines) + 1, proj.id, ref, sha, source, status, when
            )
            proj.pipelines[pipeline_id] = pipeline
            return pipeline

    def add_job(
        self,
        project: int | str,
        pipeline_id: int,
        *,
        job_id: int,
        name: str,
        stage: str = "test",
        status: str = "failed",
        trace: str | bytes | None = "",
        allow_failure: bool = False,
        failure_reason: str | None = "script_failure",
        retryable: bool = True,
        retried: bool = False,
        duration: float = 1.0,
    ) -> Job:
        """A job; ``trace=None`` means no log at all (GitLab then answers an empty 200).
        ``retried``: an older try that a later job of the same name replaced. The job is
        created when its pipeline was (plus the job's id, in seconds, to keep them apart)."""
        with self._lock:
            proj = self._project_state(project)
            if pipeline_id not in proj.pipelines:
                raise KeyError(f"unknown pipeline {pipeline_id}")
            start = datetime.fromisoformat(proj.pipelines[pipeline_id].created_at)
            raw = trace.encode() if isinstance(trace, str) else trace
            job = Job(
                job_id,
                proj.id,
                pipeline_id,
                name,
                stage,
                status,
                raw,
                allow_failure,
                failure_reason if status == "failed" else None,
                retryable,
                retried,
                created_at=_iso(start + timedelta(seconds=job_id % 86400)),
                duration=duration,
            )
            proj.jobs[job_id] = job
            return job

    def add_merge_request(
        self,
        project: int | str,
        iid: int,
        *,
        source_branch: str,
        target_branch: str = "main",
        sha: str,
        state: str = "opened",
        source_project_id: int | None = None,
        title: str | None = None,
        author: str = "developer",
    ) -> MergeRequest:
        """An MR; ``source_project_id`` different from the project's id makes it a fork MR."""
        with self._lock:
            proj = self._project_state(project)
            now = self._now()
            mr = MergeRequest(
                id=next(self._ids),
                iid=iid,
                project_id=proj.id,
                source_project_id=source_project_id if source_project_id is not None else proj.id,
                source_branch=source_branch,
                target_branch=target_branch,
                sha=sha,
                state=state,
                title=title or f"Change {source_branch}",
                description="",
                labels=[],
                author=User(900 + iid, author, author.title()),
                created_at=now,
                updated_at=now,
            )
            proj.merge_requests[iid] = mr
            return mr

    def add_note(
        self, project: int | str, iid: int, body: str, *, author: str | User = "reviewer"
    ) -> Note:
        """Seed a note (for example a human's, or an old one carrying the hidden marker)."""
        with self._lock:
            proj = self._project_state(project)
            mr = proj.merge_requests[iid]
            user = author if isinstance(author, User) else User(800, author, author.title())
            now = self._now()
            note = Note(next(self._ids), proj.id, iid, mr.id, body, user, now, now)
            proj.notes.append(note)
            return note

    def notes(self, project: int | str, iid: int) -> list[Note]:
        """The MR's notes, oldest first."""
        with self._lock:
            return [n for n in self._project_state(project).notes if n.mr_iid == iid]

    @property
    def retried(self) -> list[int]:
        """Ids of the jobs that were retried (the old ones), in retry order."""
        with self._lock:
            return list(self._retried)

    @property
    def merge_requests(self) -> list[MergeRequest]:
        with self._lock:
            return [mr for p in self.projects.values() for mr in p.merge_requests.values()]

    @property
    def commits(self) -> list[Commit]:
        """Commits made through ``POST .../repository/commits``, in order."""
        with self._lock:
            return list(self._api_commits)

    def get_file(self, project: int | str, ref: str, path: str) -> bytes | None:
        """A file's bytes at a branch or sha, ``None`` when absent."""
        with self._lock:
            files = self._project_state(project).files_at(ref)
            return None if files is None else files.get(path)

    def throttle(self, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` requests (any route) with 429 and ``Retry-After``."""
        with self._lock:
            self._throttle_left = times
            self._throttle_retry_after = retry_after

    # ---------------------------------------------------------------- plumbing

    def _now(self) -> str:
        moment = EPOCH + timedelta(seconds=next(self._clock))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _new_commit(
        self,
        project: Project,
        message: str,
        parent: str | None,
        files: dict[str, bytes],
        branch: str | None,
        *,
        author: User | None = None,
        actions: list[dict[str, Any]] | None = None,
    ) -> Commit:
        seed = f"{project.id}:{parent}:{message}:{next(self._ids)}".encode()
        sha = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        commit = Commit(
            sha, project.id, message, parent, files, branch, actions or [], author, self._now()
        )
        project.commits[sha] = commit
        return commit

    def _project_state(self, ref: int | str) -> Project:
        if isinstance(ref, int):
            return self.projects[ref]
        text = unquote(ref)
        if text.isdigit() and int(text) in self.projects:
            return self.projects[int(text)]
        for project in self.projects.values():
            if project.path == text:
                return project
        raise KeyError(ref)

    def _find_project(self, request: Request, caller: Caller) -> Project:
        try:
            project = self._project_state(request.params["project"])
        except KeyError:
            raise _not_found("Project") from None
        if caller.user is None and project.visibility != "public":
            raise _not_found("Project")  # GitLab hides private projects from anonymous callers
        return project

    def _caller(self, request: Request, *, write: bool) -> Caller:
        """APIGuard: find the token, check its scope, or fall back to anonymous."""
        value = request.headers.get("private-token")
        if not value:
            authorization = request.headers.get("authorization", "")
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                value = credentials.strip()
        if not value:
            # JOB-TOKEN is only read on routes with job_token_allowed; none of these has it.
            return Caller(None, frozenset())
        token = self._tokens.get(value)
        if token is None:
            raise ApiError(401, {"message": "401 Unauthorized"})
        allowed = {"api"} if write else {"api", "read_api"}
        if not allowed & token.scopes:
            raise ApiError(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": (
                        "The request requires higher privileges than provided by the access token."
                    ),
                    "scope": "api",
                },
            )
        return Caller(token.user, token.scopes)

    def _api(
        self, method: str, pattern: str, handler: Handler, *, authenticate: bool = False
    ) -> None:
        """Register a route behind GitLab's auth: writes and ``authenticate`` routes need a user."""
        write = method not in ("GET", "HEAD")

        def guarded(request: Request) -> Response:
            try:
                caller = self._caller(request, write=write)
                if caller.user is None and (write or authenticate):
                    raise ApiError(401, {"message": "401 Unauthorized"})
                return handler(request, caller)
            except ApiError as error:
                return error.response
            except Exception as error:  # a bug in the fake: answer like GitLab, keep it visible
                self.handler_errors.append(error)
                return Response(500, {"message": "500 Internal Server Error"})

        self.route(method, pattern, guarded)

    def _handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out and hung up is expected here; anything else is printed."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        ThreadingHTTPServer.handle_error(self._server, request, client_address)  # type: ignore[arg-type]

    def dispatch(self, request: Request) -> Response:
        """Throttling comes first: Rack::Attack answers before the API runs."""
        with self._lock:
            if self._throttle_left > 0:
                self._throttle_left -= 1
                self.requests.append(request)
                return Response(
                    429,
                    "Retry later\n",
                    {
                        "Content-Type": "text/plain",
                        "Retry-After": str(self._throttle_retry_after),
                        "RateLimit-Remaining": "0",
                        "RateLimit-Observed": str(self.rate_limit),
                    },
                )
        return super().dispatch(request)

    def decorate(self, request: Request, response: Response) -> None:
        """Every response carries GitLab.com's RateLimit-* headers (per-minute window)."""
        now = time.time()
        window = int(now // 60)
        with self._lock:
            observed = self._observed.get(window, 0) + 1
            self._observed = {window: observed}
        reset = (window + 1) * 60
        headers = {
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Observed": str(min(observed, self.rate_limit)),
            "RateLimit-Remaining": str(max(self.rate_limit - observed, 0)),
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        }
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    def _paginate(self, request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """Offset pagination with GitLab's x-* headers and an absolute ``Link`` header."""
        try:
            per_page = int(request.arg("per_page") or 20)
            page = int(request.arg("page") or 1)
        except ValueError:
            raise ApiError(400, {"error": "page is invalid"}) from None
        per_page = 20 if per_page < 1 else min(per_page, 100)
        page = max(page, 1)
        total = len(items)
        total_pages = max((total + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(number: int) -> str:
            query = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}
            query["page"] = [str(number)]
            query["per_page"] = [str(per_page)]
            return f"{self.url}{request.path}?{urlencode(query, doseq=True)}"

        links = []
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        if page < total_pages:
            links.append(f'<{link(page + 1)}>; rel="next"')
        links.append(f'<{link(1)}>; rel="first"')
        links.append(f'<{link(total_pages)}>; rel="last"')
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-next-page": str(page + 1) if page < total_pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
            "x-total": str(total),
            "x-total-pages": str(total_pages),
            "Link": ", ".join(links),
        }
        return chunk, headers

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        """JSON body (python-gitlab) or form fields (curl -F/-d style)."""
        if not request.body:
            return {}
        content_type = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in content_type:
            form = parse_qs(request.body.decode())
            return {k: v[-1] for k, v in form.items()}
        try:
            data = request.json
        except ValueError:
            raise ApiError(400, {"error": "The provided content-type is not supported."}) from None
        if not isinstance(data, dict):
            raise ApiError(400, {"error": "body must be an object"})
        return data

    @staticmethod
    def _bool(request: Request, name: str) -> bool:
        value = request.arg(name)
        if value is None:
            return False
        lowered = value.lower()
        if lowered in ("true", "t", "1", "yes", "y", "on"):
            return True
        if lowered in ("false", "f", "0", "no", "n", "off"):
            return False
        raise ApiError(400, {"error": f"{name} is invalid"})

    # ---------------------------------------------------------------- JSON shapes

    def _project_json(self, project: Project) -> dict[str, Any]:
        namespace, _, name = project.path.rpartition("/")
        return {
            "id": project.id,
            "name": name,
            "path": name,
            "path_with_namespace": project.path,
            "name_with_namespace": project.path.replace("/", " / "),
            "description": "",
            "default_branch": project.default_branch,
            "visibility": project.visibility,
            "web_url": f"{self.url}/{project.path}",
            "http_url_to_repo": f"{self.url}/{project.path}.git",
            "namespace": {"id": 1, "name": namespace, "path": namespace, "full_path": namespace},
            "archived": False,
            "created_at": EPOCH.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }

    def _pipeline_json(self, project: Project, pipeline: Pipeline) -> dict[str, Any]:
        return {
            "id": pipeline.id,
            "iid": pipeline.iid,
            "project_id": project.id,
            "sha": pipeline.sha,
            "ref": pipeline.ref,
            "status": pipeline.status,
            "source": pipeline.source,
            "created_at": pipeline.created_at,
            "updated_at": pipeline.created_at,
            "web_url": f"{self.url}/{project.path}/-/pipelines/{pipeline.id}",
            "before_sha": "0" * 40,
            "tag": False,
            "yaml_errors": None,
            "user": None,
            "detailed_status": {"group": pipeline.status, "text": pipeline.status},
        }

    def _job_json(self, project: Project, job: Job) -> dict[str, Any]:
        pipeline = project.pipelines[job.pipeline_id]
        data: dict[str, Any] = {
            "id": job.id,
            "status": job.status,
            "stage": job.stage,
            "name": job.name,
            "ref": pipeline.ref,
            "tag": False,
            "coverage": None,
            "allow_failure": job.allow_failure,
            "created_at": job.created_at,
            "started_at": job.created_at if job.status not in ("pending", "created") else None,
            "finished_at": job.created_at if job.status in RETRYABLE_STATUSES else None,
            "erased_at": None,
            "duration": job.duration if job.status in RETRYABLE_STATUSES else None,
            "queued_duration": 0.1,
            "user": None,
            "commit": {"id": pipeline.sha, "short_id": pipeline.sha[:8]},
            "pipeline": {
                "id": pipeline.id,
                "iid": pipeline.iid,
                "project_id": project.id,
                "ref": pipeline.ref,
                "sha": pipeline.sha,
                "status": pipeline.status,
                "source": pipeline.source,
            },
            "web_url": f"{self.url}/{project.path}/-/jobs/{job.id}",
            "project": {"ci_job_token_scope_enabled": False},
            "artifacts": [],
            "runner": None,
            "artifacts_expire_at": None,
            "archived": False,
            "tag_list": [],
        }
        if job.status == "failed":
            data["failure_reason"] = job.failure_reason
        return data

    def _mr_json(self, project: Project, mr: MergeRequest) -> dict[str, Any]:
        return {
            "id": mr.id,
            "iid": mr.iid,
            "project_id": project.id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "created_at": mr.created_at,
            "updated_at": mr.updated_at,
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "source_project_id": mr.source_project_id,
            "target_project_id": project.id,
            "author": mr.author.json(self.url),
            "labels": list(mr.labels),
            "draft": mr.draft,
            "work_in_progress": mr.draft,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable",
            "sha": mr.sha,
            "force_remove_source_branch": mr.remove_source_branch,
            "should_remove_source_branch": None,
            "references": {
                "short": f"!{mr.iid}",
                "relative": f"!{mr.iid}",
                "full": f"{project.path}!{mr.iid}",
            },
            "web_url": f"{self.url}/{project.path}/-/merge_requests/{mr.iid}",
        }

    # ---------------------------------------------------------------- routes

    def _register_routes(self) -> None:
        api = self._api
        api("GET", rf"{API}/user", self._current_user, authenticate=True)
        api("GET", rf"{PROJECT}", self._get_project)
        api("GET", rf"{PROJECT}/pipelines", self._list_pipelines)
        api("GET", rf"{PROJECT}/jobs", self._list_project_jobs, authenticate=True)
        api("GET", rf"{PROJECT}/issues", self._list_issues)
        api("POST", rf"{PROJECT}/issues", self._create_issue)
        api("PUT", rf"{PROJECT}/issues/(?P<iid>\d+)", self._update_issue)
        api("GET", rf"{PROJECT}/pipelines/(?P<pipeline>\d+)", self._get_pipeline)
        api("GET", rf"{PROJECT}/pipelines/(?P<pipeline>\d+)/jobs", self._list_jobs)
        api("GET", rf"{PROJECT}/jobs/(?P<job>\d+)", self._get_job, authenticate=True)
        api("GET", rf"{PROJECT}/jobs/(?P<job>\d+)/trace", self._get_trace, authenticate=True)
        api("POST", rf"{PROJECT}/jobs/(?P<job>\d+)/retry", self._retry_job, authenticate=True)
        api("GET", rf"{PROJECT}/merge_requests", self._list_mrs)
        api("POST", rf"{PROJECT}/merge_requests", self._create_mr)
        api("GET", rf"{PROJECT}/merge_requests/(?P<iid>\d+)", self._get_mr)
        api("PUT", rf"{PROJECT}/merge_requests/(?P<iid>\d+)", self._update_mr)
        api("GET", rf"{PROJECT}/merge_requests/(?P<iid>\d+)/notes", self._list_notes)
        api("POST", rf"{PROJECT}/merge_requests/(?P<iid>\d+)/notes", self._create_note)
        api("PUT", rf"{PROJECT}/merge_requests/(?P<iid>\d+)/notes/(?P<note>\d+)", self._edit_note)
        api("GET", rf"{PROJECT}/repository/branches/(?P<branch>.+)", self._get_branch)
        api("POST", rf"{PROJECT}/repository/commits", self._create_commit)
        api("GET", rf"{PROJECT}/repository/files/(?P<file>[^/]+)/raw", self._raw_file)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            self.route(method, r".*", lambda _r: Response(404, {"error": "404 Not Found"}))

    def _get_project(self, request: Request, caller: Caller) -> Response:
        return Response(200, self._project_json(self._find_project(request, caller)))

    def _pipeline(self, project: Project, request: Request) -> Pipeline:
        pipeline = project.pipelines.get(int(request.params["pipeline"]))
        if pipeline is None:
            raise _not_found()
        return pipeline

    def _job(self, project: Project, request: Request) -> Job:
        job = project.jobs.get(int(request.params["job"]))
        if job is None:
            raise _not_found()
        return job

    def _get_pipeline(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        return Response(200, self._pipeline_json(project, self._pipeline(project, request)))

    def _list_jobs(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        pipeline = self._pipeline(project, request)
        scope = request.query.get("scope[]", []) + request.query.get("scope", [])
        if any(s not in JOB_STATUSES for s in scope):
            raise ApiError(400, {"error": "scope does not have a valid value"})
        include_retried = self._bool(request, "include_retried")
        jobs = [
            job
            for job in sorted(project.jobs.values(), key=lambda j: j.id)
            if job.pipeline_id == pipeline.id
            and (include_retried or not job.retried)
            and (not scope or job.status in scope)
        ]
        chunk, headers = self._paginate(request, jobs)
        return Response(200, [self._job_json(project, job) for job in chunk], headers)

    def _list_pipelines(self, request: Request, caller: Caller) -> Response:
        """``ref``, ``sha``, ``status``, ``source``, ``scope=finished``, ``updated_after``;
        ``order_by=id`` (default) or ``updated_at``, ``sort=desc`` (default)."""
        project = self._find_project(request, caller)
        finished = {"success", "failed", "canceled", "skipped"}
        scope, after = request.arg("scope"), request.arg("updated_after")
        if scope not in (None, "finished", "running", "pending"):
            raise ApiError(400, {"error": "scope does not have a valid value"})
        found = [
            p
            for p in project.pipelines.values()
            if request.arg("ref") in (None, p.ref)
            and request.arg("sha") in (None, p.sha)
            and request.arg("status") in (None, p.status)
            and request.arg("source") in (None, p.source)
            and (scope != "finished" or p.status in finished)
            and (scope not in ("running", "pending") or p.status == scope)
            and (after is None or _epoch(p.created_at) >= _epoch(after))
        ]
        order = request.arg("order_by", "id") or "id"
        if order not in ("id", "updated_at", "status", "ref", "user_id"):
            raise ApiError(400, {"error": "order_by does not have a valid value"})
        found.sort(
            key=lambda p: (p.created_at, p.id) if order == "updated_at" else (p.id, p.id),
            reverse=(request.arg("sort", "desc") or "desc") == "desc",
        )
        chunk, headers = self._paginate(request, found)
        return Response(200, [self._pipeline_json(project, p) for p in chunk], headers)

    def _list_project_jobs(self, request: Request, caller: Caller) -> Response:
        """Every job of the project, retried tries included, newest first (``scope[]``)."""
        project = self._find_project(request, caller)
        scope = request.query.get("scope[]", []) + request.query.get("scope", [])
        if any(s not in JOB_STATUSES for s in scope):
            raise ApiError(400, {"error": "scope does not have a valid value"})
        jobs = [
            job
            for job in sorted(project.jobs.values(), key=lambda j: j.id, reverse=True)
            if not scope or job.status in scope
        ]
        chunk, headers = self._paginate(request, jobs)
        return Response(200, [self._job_json(project, job) for job in chunk], headers)

    def _issue_json(self, project: Project, issue: Issue) -> dict[str, Any]:
        return {
            "id": issue.id,
            "iid": issue.iid,
            "project_id": project.id,
            "title": issue.title,
            "description": issue.description,
            "state": issue.state,
            "labels": list(issue.labels),
            "created_at": issue.created_at,
            "updated_at": self._now(),
            "web_url": f"{self.url}/{project.path}/-/issues/{issue.iid}",
        }

    def _list_issues(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        state = request.arg("state", "all") or "all"
        if state not in ("opened", "closed", "all"):
            raise ApiError(400, {"error": "state does not have a valid value"})
        found = sorted(
            (i for i in project.issues.values() if state in ("all", i.state)),
            key=lambda i: i.iid,
            reverse=True,
        )
        chunk, headers = self._paginate(request, found)
        return Response(200, [self._issue_json(project, i) for i in chunk], headers)

    def _create_issue(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        body = self._body(request)
        if not body.get("title"):
            raise _missing("title")
        description = str(body.get("description") or "")
        if len(description) > 1_048_576:
            raise _bad_request({"description": ["is too long (maximum is 1048576 characters)"]})
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(",") if label.strip()]
        iid = 1 + max(project.issues, default=0)
        issue = Issue(
            next(self._ids),
            iid,
            str(body["title"]),
            description,
            list(labels),
            "opened",
            self._now(),
        )
        project.issues[iid] = issue
        return Response(201, self._issue_json(project, issue))

    def _update_issue(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        issue = project.issues.get(int(request.params["iid"]))
        if issue is None:
            raise _not_found()
        body = self._body(request)
        if "title" in body:
            issue.title = str(body["title"])
        if "description" in body:
            issue.description = str(body["description"] or "")
        if body.get("state_event") in ("close", "reopen"):
            issue.state = "closed" if body["state_event"] == "close" else "opened"
        return Response(200, self._issue_json(project, issue))

    def _get_job(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        return Response(200, self._job_json(project, self._job(project, request)))

    def _get_trace(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        job = self._job(project, request)
        headers = {
            "Content-Type": "text/plain",
            "Content-Disposition": f'infile; filename="{job.id}.log"',
        }
        return Response(200, job.trace or b"", headers)

    def _retry_job(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        job = self._job(project, request)
        if job.retried or not job.retryable or job.status not in RETRYABLE_STATUSES:
            raise ApiError(403, {"message": "403 Forbidden - Job is not retryable"})
        new_id = max(j.id for p in self.projects.values() for j in p.jobs.values()) + 1
        job.retried = True
        self._retried.append(job.id)
        new = Job(
            new_id,
            project.id,
            job.pipeline_id,
            job.name,
            job.stage,
            "pending",
            None,
            job.allow_failure,
            None,
            created_at=self._now(),
        )
        project.jobs[new_id] = new
        return Response(201, self._job_json(project, new))

    def _list_mrs(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        state = request.arg("state", "all") or "all"
        if state not in MR_STATES:
            raise ApiError(400, {"error": "state does not have a valid value"})
        source, target = request.arg("source_branch"), request.arg("target_branch")
        mrs = [
            mr
            for mr in project.merge_requests.values()
            if state in ("all", mr.state)
            and (source is None or mr.source_branch == source)
            and (target is None or mr.target_branch == target)
        ]
        order_by = request.arg("order_by", "created_at") or "created_at"
        reverse = (request.arg("sort", "desc") or "desc") == "desc"
        mrs.sort(key=lambda mr: (getattr(mr, order_by, mr.created_at), mr.id), reverse=reverse)
        chunk, headers = self._paginate(request, mrs)
        return Response(200, [self._mr_json(project, mr) for mr in chunk], headers)

    def _mr(self, project: Project, request: Request) -> MergeRequest:
        mr = project.merge_requests.get(int(request.params["iid"]))
        if mr is None:
            raise _not_found()
        return mr

    def _get_mr(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        return Response(200, self._mr_json(project, self._mr(project, request)))

    def _update_mr(self, request: Request, caller: Caller) -> Response:
        """``PUT .../merge_requests/:iid`` for the attributes pipeline-guard may change."""
        project = self._find_project(request, caller)
        mr = self._mr(project, request)
        body = self._body(request)
        known = ("title", "description", "labels", "target_branch", "state_event")
        if not any(key in body for key in (*known, "remove_source_branch")):
            missing = f"{', '.join(known)} are missing, at least one parameter must be provided"
            raise ApiError(400, {"error": missing})
        if "title" in body:
            mr.title = str(body["title"])
        if "description" in body:
            mr.description = str(body["description"] or "")
        if "labels" in body:
            labels = body["labels"] or []
            if isinstance(labels, str):
                labels = [label.strip() for label in labels.split(",") if label.strip()]
            mr.labels = [str(label) for label in labels]
        if "target_branch" in body:
            if str(body["target_branch"]) not in project.branches:
                raise ApiError(422, {"message": ["Target branch does not exist"]})
            mr.target_branch = str(body["target_branch"])
        if body.get("state_event") in ("close", "reopen"):
            mr.state = "closed" if body["state_event"] == "close" else "opened"
        if "remove_source_branch" in body:
            mr.remove_source_branch = bool(body["remove_source_branch"])
        mr.updated_at = self._now()
        return Response(200, self._mr_json(project, mr))

    def _create_mr(self, request: Request, caller: Caller) -> Response:
        assert caller.user is not None
        project = self._find_project(request, caller)
        body = self._body(request)
        absent = [k for k in ("source_branch", "target_branch", "title") if not body.get(k)]
        if absent:
            raise _missing(*absent)
        source, target = str(body["source_branch"]), str(body["target_branch"])
        if source == target:
            raise ApiError(
                422, {"message": ["You can't use same project/branch for source and target"]}
            )
        for kind, branch in (("Source", source), ("Target", target)):
            if branch not in project.branches:
                raise ApiError(422, {"message": [f'{kind} branch "{branch}" does not exist']})
        for mr in project.merge_requests.values():
            if mr.state == "opened" and mr.source_branch == source and mr.target_branch == target:
                raise ApiError(
                    409,
                    {
                        "message": [
                            "Another open merge request already exists for this source branch: "
                            f"!{mr.iid}"
                        ]
                    },
                )
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(",") if label.strip()]
        now = self._now()
        mr = MergeRequest(
            id=next(self._ids),
            iid=max(project.merge_requests, default=0) + 1,
            project_id=project.id,
            source_project_id=project.id,
            source_branch=source,
            target_branch=target,
            sha=project.branches[source],
            state="opened",
            title=str(body["title"]),
            description=str(body.get("description") or ""),
            labels=[str(label) for label in labels],
            author=caller.user,
            remove_source_branch=bool(body.get("remove_source_branch")),
            created_at=now,
            updated_at=now,
        )
        project.merge_requests[mr.iid] = mr
        return Response(201, self._mr_json(project, mr))

    def _list_notes(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        mr = self._mr(project, request)
        order_by = request.arg("order_by", "created_at") or "created_at"
        sort = request.arg("sort", "desc") or "desc"
        if order_by not in ("created_at", "updated_at") or sort not in ("asc", "desc"):
            raise ApiError(400, {"error": "order_by, sort does not have a valid value"})
        notes = [n for n in project.notes if n.mr_iid == mr.iid]
        notes.sort(key=lambda n: (getattr(n, order_by), n.id), reverse=sort == "desc")
        chunk, headers = self._paginate(request, notes)
        return Response(200, [n.json(self.url) for n in chunk], headers)

    @staticmethod
    def _note_body(request: Request) -> str:
        body = FakeGitLab._body(request).get("body")
        if body is None or body == "":
            raise _missing("body")
        text = str(body)
        if len(text) > NOTE_MAX_CHARS:
            raise _bad_request('Note {:note=>["is too long (maximum is 1000000 characters)"]}')
        return text

    def _create_note(self, request: Request, caller: Caller) -> Response:
        assert caller.user is not None
        project = self._find_project(request, caller)
        mr = self._mr(project, request)
        text = self._note_body(request)
        now = self._now()
        note = Note(next(self._ids), project.id, mr.iid, mr.id, text, caller.user, now, now)
        project.notes.append(note)
        return Response(201, note.json(self.url))

    def _current_user(self, request: Request, caller: Caller) -> Response:
        """``GET /user``: the token's user (a project access token's bot user)."""
        assert caller.user is not None
        return Response(200, caller.user.json(self.url))

    def _edit_note(self, request: Request, caller: Caller) -> Response:
        assert caller.user is not None
        project = self._find_project(request, caller)
        mr = self._mr(project, request)
        note_id = int(request.params["note"])
        note = next((n for n in project.notes if n.id == note_id and n.mr_iid == mr.iid), None)
        if note is None:
            raise _not_found()
        if note.author.id != caller.user.id:
            raise ApiError(403, {"message": "403 Forbidden"})  # only the author may edit
        note.body = self._note_body(request)
        note.updated_at = self._now()
        return Response(200, note.json(self.url))

    def _get_branch(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        name = unquote(request.params["branch"])
        sha = project.branches.get(name)
        if sha is None:
            raise _not_found("Branch")
        commit = project.commits[sha]
        return Response(
            200,
            {
                "name": name,
                "merged": False,
                "protected": name == project.default_branch,
                "default": name == project.default_branch,
                "developers_can_push": False,
                "developers_can_merge": False,
                "can_push": True,
                "web_url": f"{self.url}/{project.path}/-/tree/{quote(name, safe='')}",
                "commit": commit.json(self.url, project.path),
            },
        )

    def _raw_file(self, request: Request, caller: Caller) -> Response:
        project = self._find_project(request, caller)
        ref = request.arg("ref") or project.default_branch
        files = project.files_at(ref)
        path = unquote(request.params["file"])
        if files is None or path not in files:
            raise _not_found("File")
        return Response(200, files[path], {"Content-Type": "text/plain; charset=utf-8"})

    def _create_commit(self, request: Request, caller: Caller) -> Response:
        assert caller.user is not None
        project = self._find_project(request, caller)
        body = self._body(request)
        absent = [k for k in ("branch", "commit_message", "actions") if not body.get(k)]
        if absent:
            raise _missing(*absent)
        branch = str(body["branch"])
        start_branch = str(body.get("start_branch") or branch)
        start_sha = body.get("start_sha")
        force = bool(body.get("force"))
        actions = body["actions"]
        if not isinstance(actions, list):
            raise ApiError(400, {"error": "actions is invalid"})
        for index, action in enumerate(actions):
            if not isinstance(action, dict) or action.get("action") not in COMMIT_ACTIONS:
                raise ApiError(
                    400, {"error": f"actions[{index}][action] does not have a valid value"}
                )
            if not action.get("file_path"):
                raise _missing(f"actions[{index}][file_path]")
        if start_sha:
            if start_sha not in project.commits:
                raise _bad_request(f"Invalid start SHA: {start_sha}")
            parent = str(start_sha)
        elif start_branch in project.branches:
            parent = project.branches[start_branch]
        else:
            raise _bad_request("You can only create or edit files when you are on a branch")
        different_branch = start_branch != branch or bool(start_sha)
        if different_branch and branch in project.branches and not force:
            raise _bad_request(
                f"A branch called '{branch}' already exists. "
                "Switch to that branch in order to make changes"
            )
        files = dict(project.commits[parent].files)
        for action in actions:
            self._apply(files, action)
        commit = self._new_commit(
            project,
            str(body["commit_message"]),
            parent,
            files,
            branch,
            author=caller.user,
            actions=actions,
        )
        project.branches[branch] = commit.sha
        self._api_commits.append(commit)
        return Response(201, commit.json(self.url, project.path))

    @staticmethod
    def _content(action: dict[str, Any]) -> bytes:
        content = action.get("content")
        if action.get("encoding", "text") == "base64" and content is not None:
            try:
                return base64.b64decode(str(content), validate=True)
            except ValueError:
                raise _bad_request("Invalid base64 content") from None
        return str(content or "").encode()

    @staticmethod
    def _apply(files: dict[str, bytes], action: dict[str, Any]) -> None:
        """One commit action, with Gitaly's error messages."""
        kind, path = action["action"], str(action["file_path"])
        content = action.get("content")
        data = FakeGitLab._content(action)
        if kind == "create":
            if path in files:
                raise _bad_request("A file with this name already exists")
            files[path] = data
        elif kind == "update":
            if path not in files:
                raise _bad_request("A file with this name doesn't exist")
            files[path] = data
        elif kind == "delete":
            if path not in files:
                raise _bad_request("A file with this name doesn't exist")
            del files[path]
        elif kind == "move":
            previous = str(action.get("previous_path") or "")
            if previous not in files:
                raise _bad_request("A file with this name doesn't exist")
            if path in files:
                raise _bad_request("A file with this name already exists")
            moved = files.pop(previous)
            files[path] = data if content is not None else moved
        elif path not in files:  # chmod
            raise _bad_request("A file with this name doesn't exist")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    """A started FakeGitLab with ``glpat-test`` (api) and ``glpat-read`` (read_api)."""
    tokens = {GITLAB_TOKEN: {"api"}, GITLAB_READ_TOKEN: {"read_api"}}
    with FakeGitLab(tokens, usernames={GITLAB_TOKEN: "guard-bot"}) as server:
        yield server
    assert not server.handler_errors, f"the fake itself failed: {server.handler_errors!r}"
