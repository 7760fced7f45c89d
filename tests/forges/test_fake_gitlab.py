"""Self-tests of the fake GitLab: it must answer python-gitlab 8.6 and httpx like gitlab.com.

These pin the behaviour the GitLab adapter relies on (pagination, retries, notes, commits,
auth errors, rate limits), so a wrong fake cannot make a wrong adapter look right.
"""

from __future__ import annotations

import warnings
from typing import Any

import gitlab
import gitlab.exceptions
import httpx
import pytest
import requests

from fakes.gitlab_api import (
    GITLAB_READ_TOKEN,
    GITLAB_TOKEN,
    FakeGitLab,
    fake_gitlab,  # noqa: F401
)

PID = 77


@pytest.fixture
def fake(fake_gitlab: FakeGitLab) -> FakeGitLab:  # noqa: F811
    """The shared fixture under a short name (ruff sees a parameter named like it as F811)."""
    return fake_gitlab


def client(fake: FakeGitLab, token: str = GITLAB_TOKEN, **kwargs: Any) -> gitlab.Gitlab:
    return gitlab.Gitlab(url=fake.url, private_token=token, **kwargs)


def seed(fake: FakeGitLab, *, failed: int = 45, passed: int = 5) -> None:
    """Project 7 with pipeline 77: ``failed`` failed jobs (ids 1..) and ``passed`` green ones."""
    fake.add_project(7, "group/app", files={"README.md": b"# app\n", "src/app.py": b"x = 1\n"})
    fake.add_branch(7, "feature")
    fake.add_pipeline(7, PID, ref="feature", sha="a" * 40)
    for n in range(1, failed + 1):
        fake.add_job(7, PID, job_id=n, name=f"test {n}", trace=f"job {n}\nERROR boom\n")
    for n in range(failed + 1, failed + passed + 1):
        fake.add_job(7, PID, job_id=n, name=f"ok {n}", status="success", trace="fine\n")


def api(fake: FakeGitLab, path: str) -> str:
    return f"{fake.url}/api/v4{path}"


def test_failed_jobs_are_listed_across_pages_with_and_without_retried(
    fake: FakeGitLab,
) -> None:
    seed(fake)
    fake.projects[7].jobs[3].retried = True  # as if job 3 had been retried before
    fake.add_job(7, PID, job_id=100, name="test 3", status="failed")
    project = client(fake).projects.get("group/app")
    pipeline = project.pipelines.get(PID)

    latest = list(pipeline.jobs.list(scope=["failed"], iterator=True, per_page=20))
    everything = pipeline.jobs.list(scope=["failed"], include_retried=True, get_all=True)

    assert len(latest) == 45
    assert 3 not in {job.id for job in latest}
    assert {job.id for job in everything} == {*range(1, 46), 100}
    assert all(job.status == "failed" for job in latest)
    pages = [r.arg("page") for r in fake.find("GET", r".*/pipelines/77/jobs")][:3]
    assert pages == [None, "2", "3"]  # python-gitlab followed the Link header


def test_pagination_headers_and_link_are_gitlabs(fake: FakeGitLab) -> None:
    seed(fake)
    response = httpx.get(
        api(fake, f"/projects/7/pipelines/{PID}/jobs"),
        params={"scope[]": "failed", "per_page": "20", "page": "2"},
        headers={"PRIVATE-TOKEN": GITLAB_TOKEN},
    )

    assert response.status_code == 200
    assert len(response.json()) == 20
    headers = response.headers
    assert (headers["x-page"], headers["x-per-page"], headers["x-total"]) == ("2", "20", "45")
    assert (headers["x-next-page"], headers["x-prev-page"], headers["x-total-pages"]) == (
        "3",
        "1",
        "3",
    )
    links = {
        link["rel"]: link["url"] for link in httpx.Response(200, headers=headers).links.values()
    }
    assert set(links) == {"next", "prev", "first", "last"}
    assert links["next"].startswith(f"{fake.url}/api/v4/projects/7/pipelines/77/jobs?")
    assert "scope%5B%5D=failed" in links["next"]
    assert "page=3" in links["next"]


def test_trace_is_read_whole_and_streamed(fake: FakeGitLab) -> None:
    seed(fake, failed=2, passed=0)
    big = b"".join(b"line %d ECONNRESET\n" % n for n in range(20_000))
    fake.add_job(7, PID, job_id=50, name="big", trace=big)
    fake.add_job(7, PID, job_id=51, name="no log", trace=None)
    project = client(fake).projects.get(7, lazy=True)
    chunks: list[bytes] = []

    whole = project.jobs.get(1, lazy=True).trace()
    project.jobs.get(50, lazy=True).trace(streamed=True, action=chunks.append, chunk_size=8192)
    empty = project.jobs.get(51, lazy=True).trace()

    assert whole == b"job 1\nERROR boom\n"
    assert len(chunks) > 1
    assert b"".join(chunks) == big
    assert empty == b""  # GitLab answers 200 with an empty body for a job without a log
    with pytest.raises(gitlab.exceptions.GitlabGetError) as missing:
        project.jobs.get(999, lazy=True).trace()
    assert missing.value.response_code == 404


def test_retry_creates_a_new_pending_job_and_refuses_a_second_retry(
    fake: FakeGitLab,
) -> None:
    seed(fake, failed=3, passed=1)
    project = client(fake).projects.get(7, lazy=True)

    new = project.jobs.get(2, lazy=True).retry()

    assert new["id"] == 5
    assert (new["name"], new["status"]) == ("test 2", "pending")
    assert fake.retried == [2]
    latest = project.pipelines.get(PID, lazy=True).jobs.list(get_all=True)
    assert {job.id for job in latest} == {1, 3, 4, 5}
    with pytest.raises(gitlab.exceptions.GitlabJobRetryError) as again:
        project.jobs.get(2, lazy=True).retry()
    assert again.value.response_code == 403
    assert again.value.error_message == "403 Forbidden - Job is not retryable"
    fake.add_job(7, PID, job_id=60, name="running", status="running")
    with pytest.raises(gitlab.exceptions.GitlabJobRetryError):
        project.jobs.get(60, lazy=True).retry()  # only success/failed/canceled jobs retry


def test_notes_are_created_listed_and_edited(fake: FakeGitLab) -> None:
    seed(fake, failed=1, passed=0)
    fake.add_merge_request(7, 12, source_branch="feature", sha="a" * 40)
    fake.add_note(7, 12, "LGTM", author="human")
    mr = client(fake).projects.get(7, lazy=True).mergerequests.get(12)

    created = mr.notes.create({"body": "<!-- pipeline-guard -->\nfirst"})
    listed = mr.notes.list(get_all=True, sort="asc", order_by="created_at")
    bodies = [n.body for n in listed]
    mine = next(n for n in listed if "<!-- pipeline-guard -->" in n.body)
    mine.body = "<!-- pipeline-guard -->\nsecond"
    mine.save()

    assert bodies == ["LGTM", "<!-- pipeline-guard -->\nfirst"]
    assert mine.id == created.id
    assert created.author["username"] == "guard-bot"
    assert [n.body for n in fake.notes(7, 12)] == ["LGTM", "<!-- pipeline-guard -->\nsecond"]
    assert fake.find("PUT", rf".*/merge_requests/12/notes/{created.id}")
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as too_long:
        mr.notes.create({"body": "x" * 1_000_001})
    assert too_long.value.response_code == 400
    human = next(n for n in listed if n.body == "LGTM")
    human.body = "edited"
    with pytest.raises(gitlab.exceptions.GitlabUpdateError) as not_mine:
        human.save()
    assert not_mine.value.response_code == 403


def test_merge_requests_are_found_by_source_branch_and_duplicates_conflict(
    fake: FakeGitLab,
) -> None:
    seed(fake, failed=1, passed=0)
    fake.add_merge_request(7, 1, source_branch="feature", sha="a" * 40)
    fake.add_merge_request(7, 2, source_branch="feature", sha="b" * 40, state="merged")
    fake.add_merge_request(7, 3, source_branch="patch-1", sha="c" * 40, source_project_id=99)
    project = client(fake).projects.get(7, lazy=True)

    opened = project.mergerequests.list(source_branch="feature", state="opened", get_all=True)
    fork = project.mergerequests.get(3)
    fake.add_branch(7, "pipeline-guard/fix-format")
    created = project.mergerequests.create(
        {
            "source_branch": "pipeline-guard/fix-format",
            "target_branch": "main",
            "title": "Draft: fix formatting",
            "labels": ["pipeline-guard"],
            "remove_source_branch": True,
        }
    )

    assert [mr.iid for mr in opened] == [1]
    assert fork.source_project_id == 99
    assert fork.source_project_id != fork.target_project_id
    assert (created.iid, created.draft) == (4, True)
    assert list(created.labels) == ["pipeline-guard"]
    assert created.force_remove_source_branch is True
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as duplicate:
        project.mergerequests.create(
            {"source_branch": "pipeline-guard/fix-format", "target_branch": "main", "title": "x"}
        )
    assert duplicate.value.response_code == 409
    message: object = duplicate.value.error_message  # typed str, but GitLab sent a list
    assert message == ["Another open merge request already exists for this source branch: !4"]


def test_commit_with_actions_creates_the_branch(fake: FakeGitLab) -> None:
    seed(fake, failed=1, passed=0)
    project = client(fake).projects.get(7, lazy=True)

    commit = project.commits.create(
        {
            "branch": "pipeline-guard/fix-format",
            "start_branch": "main",
            "commit_message": "style: run the formatter",
            "actions": [
                {"action": "create", "file_path": "docs/new.md", "content": "new\n"},
                {
                    "action": "update",
                    "file_path": "src/app.py",
                    "content": "eCA9IDIK",
                    "encoding": "base64",
                },
            ],
        }
    )
    branch = project.branches.get("pipeline-guard/fix-format")
    raw = project.files.raw(file_path="docs/new.md", ref="pipeline-guard/fix-format")

    assert branch.commit["id"] == commit.id
    assert raw == b"new\n"
    assert fake.get_file(7, "pipeline-guard/fix-format", "src/app.py") == b"x = 2\n"
    assert fake.get_file(7, "main", "src/app.py") == b"x = 1\n"
    assert fake.get_file(7, "main", "docs/new.md") is None
    assert [c.message for c in fake.commits] == ["style: run the formatter"]
    with pytest.raises(gitlab.exceptions.GitlabGetError) as no_branch:
        project.branches.get("nope")
    assert no_branch.value.response_code == 404


@pytest.mark.parametrize(
    ("action", "path", "message"),
    [
        ("update", "missing.txt", "A file with this name doesn't exist"),
        ("create", "README.md", "A file with this name already exists"),
    ],
)
def test_commit_actions_are_validated_like_gitlab(
    fake: FakeGitLab, action: str, path: str, message: str
) -> None:
    seed(fake, failed=1, passed=0)
    project = client(fake).projects.get(7, lazy=True)

    with pytest.raises(gitlab.exceptions.GitlabCreateError) as error:
        project.commits.create(
            {
                "branch": "fix",
                "start_branch": "main",
                "commit_message": "m",
                "actions": [{"action": action, "file_path": path, "content": "x"}],
            }
        )

    assert (error.value.response_code, error.value.error_message) == (400, message)
    assert fake.get_file(7, "fix", "README.md") is None  # nothing was committed


def test_missing_or_unknown_token_is_401(fake: FakeGitLab) -> None:
    seed(fake, failed=1, passed=0)

    no_token = httpx.post(api(fake, "/projects/7/jobs/1/retry"))
    bad_token = httpx.get(api(fake, "/projects/7"), headers={"PRIVATE-TOKEN": "nope"})
    bearer = httpx.get(
        api(fake, "/projects/7"), headers={"Authorization": f"Bearer {GITLAB_TOKEN}"}
    )

    assert (no_token.status_code, no_token.json()) == (401, {"message": "401 Unauthorized"})
    assert (bad_token.status_code, bad_token.json()) == (401, {"message": "401 Unauthorized"})
    assert bearer.status_code == 200
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as error:
        client(fake, "nope").projects.get(7)
    assert error.value.response_code == 401


def test_job_token_is_refused_as_gitlab_does(fake: FakeGitLab) -> None:
    """CI_JOB_TOKEN is ignored on these routes: 401 on jobs and writes, 404 on private GETs."""
    seed(fake, failed=1, passed=0)
    headers = {"JOB-TOKEN": "glcbt-64_jobtoken"}

    trace = httpx.get(api(fake, "/projects/7/jobs/1/trace"), headers=headers)
    project = httpx.get(api(fake, "/projects/7"), headers=headers)
    jobs = httpx.get(api(fake, f"/projects/7/pipelines/{PID}/jobs"), headers=headers)

    assert (trace.status_code, trace.json()) == (401, {"message": "401 Unauthorized"})
    assert (project.status_code, project.json()) == (404, {"message": "404 Project Not Found"})
    assert jobs.status_code == 404
    job_client = gitlab.Gitlab(url=fake.url, job_token="glcbt-64_jobtoken")
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as retry:
        job_client.projects.get(7, lazy=True).jobs.get(1, lazy=True).retry()
    assert retry.value.response_code == 401
    with pytest.raises(gitlab.exceptions.GitlabGetError) as get:
        job_client.projects.get(7)
    assert get.value.response_code == 404
    assert fake.find("POST", r".*/jobs/1/retry")[0].headers["job-token"]


def test_read_api_token_gets_insufficient_scope_on_retry(fake: FakeGitLab) -> None:
    seed(fake, failed=1, passed=0)
    reader = client(fake, GITLAB_READ_TOKEN)

    assert reader.projects.get(7).path_with_namespace == "group/app"  # reads are fine
    with pytest.raises(gitlab.exceptions.GitlabJobRetryError) as error:
        reader.projects.get(7, lazy=True).jobs.get(1, lazy=True).retry()
    raw = httpx.post(
        api(fake, "/projects/7/jobs/1/retry"), headers={"PRIVATE-TOKEN": GITLAB_READ_TOKEN}
    )

    assert error.value.response_code == 403
    assert error.value.error_message == "insufficient_scope"
    assert raw.status_code == 403
    assert raw.json() == {
        "error": "insufficient_scope",
        "error_description": (
            "The request requires higher privileges than provided by the access token."
        ),
        "scope": "api",
    }
    assert fake.retried == []


def test_rate_limit_headers_and_429_with_retry_after(fake: FakeGitLab) -> None:
    seed(fake, failed=1, passed=0)
    url = api(fake, "/projects/7")
    token = {"PRIVATE-TOKEN": GITLAB_TOKEN}

    normal = httpx.get(url, headers=token)
    fake.throttle(retry_after=1)
    throttled = httpx.get(url, headers=token)

    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Observed"):
        assert normal.headers[name].isdigit()
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.text == "Retry later\n"

    fake.throttle(retry_after=1)
    before = len(fake.requests)
    assert client(fake).projects.get(7).id == 7  # python-gitlab waits and retries
    assert len(fake.requests) - before == 2

    fake.throttle(retry_after=30)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as error:
        client(fake).projects.get(7, obey_rate_limit=False)
    assert error.value.response_code == 429


def test_server_errors_timeouts_and_unknown_routes(fake: FakeGitLab) -> None:
    seed(fake, failed=1, passed=0)
    gl = client(fake, timeout=0.3)

    fake.fail("GET", r"/api/v4/projects/7", 502)
    with pytest.raises(gitlab.exceptions.GitlabGetError) as bad_gateway:
        gl.projects.get(7)  # retry_transient_errors is off by default: no retry
    fake.slow("GET", r"/api/v4/projects/7", 1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        gl.projects.get(7)  # a timeout is *not* wrapped in a GitlabError
    unknown = httpx.get(api(fake, "/nope"), headers={"PRIVATE-TOKEN": GITLAB_TOKEN})

    assert bad_gateway.value.response_code == 502
    assert (unknown.status_code, unknown.json()) == (404, {"error": "404 Not Found"})


def test_list_without_get_all_returns_one_page_and_warns(fake: FakeGitLab) -> None:
    seed(fake)
    pipeline = client(fake).projects.get(7, lazy=True).pipelines.get(PID, lazy=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = pipeline.jobs.list(scope="failed")

    assert len(first) == 20
    assert any("get_all=True" in str(w.message) for w in caught)


# --------------------------------------------------------------------------- history (issue 14)


def _schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    """The spec README's recipe: definitions resolved against the root, nulls dropped."""
    import jsonschema  # noqa: PLC0415

    from fakes.gitlab_contract import _spec  # noqa: PLC0415

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if v is not None}
        return [strip(v) for v in x] if isinstance(x, list) else x

    full = {**schema, "definitions": _spec()["definitions"]}
    # GitLab's generated text types project.ci_job_token_scope_enabled as a string; GitLab
    # sends a boolean (the description's own example is `false`).
    return [
        e.message
        for e in jsonschema.Draft4Validator(full).iter_errors(strip(value))
        if list(e.path)[-2:] != ["project", "ci_job_token_scope_enabled"]
    ]


def test_history_lists_answer_in_gitlabs_shapes(fake: FakeGitLab) -> None:
    from fakes.gitlab_contract import _spec  # noqa: PLC0415

    seed(fake)
    fake.add_pipeline(7, 78, ref="main", sha="b" * 40, source="push", status="success")
    headers = {"PRIVATE-TOKEN": GITLAB_TOKEN}
    pipelines = httpx.get(
        api(fake, "/projects/7/pipelines"),
        params={"ref": "main", "scope": "finished", "order_by": "id", "sort": "desc"},
        headers=headers,
    )
    jobs = httpx.get(
        api(fake, "/projects/7/jobs"), params={"scope[]": ["failed", "success"]}, headers=headers
    )
    paths = _spec()["paths"]
    pipelines_schema = paths["/api/v4/projects/{id}/pipelines"]["get"]["responses"]["200"]
    jobs_schema = paths["/api/v4/projects/{id}/jobs"]["get"]["responses"]["200"]

    assert [p["id"] for p in pipelines.json()] == [78]
    assert _schema_errors(pipelines_schema["schema"], pipelines.json()) == []
    assert len(jobs.json()) == 20  # GitLab's default page
    assert jobs.json()[0]["id"] > jobs.json()[-1]["id"]  # newest first
    assert _schema_errors(jobs_schema["schema"], jobs.json()) == []


def test_history_contract_flags_what_gitlab_would_not_take(fake: FakeGitLab) -> None:
    from fakes.gitlab_contract import check_requests  # noqa: PLC0415

    seed(fake)
    httpx.get(
        api(fake, "/projects/7/pipelines"),
        params={"scope": "done", "branch": "main"},
        headers={"PRIVATE-TOKEN": GITLAB_TOKEN},
    )
    problems = check_requests(fake.requests)
    assert any("unknown query parameter 'branch'" in p for p in problems)
    assert any("scope='done'" in p for p in problems)
