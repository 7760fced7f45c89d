"""Self-tests of the fake GitHub: it must answer PyGithub 2.10 and httpx like api.github.com.

These pin the behaviour the GitHub adapter relies on (pagination, log redirects, re-runs,
comments, the git database, auth and rate limits), so a wrong fake cannot make a wrong adapter
look right; the last tests pin the contract checker that every ``fake_github`` test runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import github
import httpx
import pytest
from github import Auth, Github, GithubException

from fakes.github_api import (
    FakeGitHub,
    fake_github,  # noqa: F401
)
from fakes.github_contract import check_requests
from fakes.http_server import Request

REPO = "octo/app"
SHA = "a" * 40
HTTP = httpx.Client(timeout=5)  # one client: building one costs ~50 ms (TLS context)


@pytest.fixture
def fake(fake_github: FakeGitHub) -> FakeGitHub:  # noqa: F811
    """The shared fixture: started, and contract-checked at teardown."""
    return fake_github


def client(fake: FakeGitHub, token: str | None = None, **kwargs: Any) -> Github:
    """PyGithub as the adapter builds it, minus the default throttling (0.25 s / 1 s writes)."""
    return Github(
        base_url=fake.url,
        auth=Auth.Token(token or fake.token),
        seconds_between_requests=None,
        seconds_between_writes=None,
        **kwargs,
    )


def api(fake: FakeGitHub, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {fake.token}", **kwargs.pop("headers", {})}
    return HTTP.request(method, fake.url + path, headers=headers, **kwargs)


def seed(fake: FakeGitHub, *, jobs: int = 3, status: str = "completed") -> None:
    """octo/app with PR 7 and run 100: ``jobs`` failed jobs (ids 1000..) and one green job."""
    fake.add_repo(REPO, files={"README.md": b"# app\n", "src/app.py": b"x = 1\n"})
    fake.add_pull(REPO, 7, head_sha=SHA, head_ref="feature")
    fake.add_run(REPO, 100, head_sha=SHA, head_branch="feature", pull_requests=[7], status=status)
    for i in range(jobs):
        fake.add_job(
            REPO,
            100,
            job_id=1000 + i,
            name=f"test ({i})",
            log=f"line 1\nError: boom {i}\n",
            steps=[("Set up job", "success"), ("Run tests", "failure")],
            annotations=[("failure", f"Process completed with exit code {i + 1}.")],
        )
    fake.add_job(REPO, 100, job_id=999, name="lint", conclusion="success", log="ok\n")


# --------------------------------------------------------------------------- runs and jobs


def test_pygithub_reads_a_run_and_pages_through_its_jobs(fake: FakeGitHub) -> None:
    seed(fake, jobs=64)
    run = client(fake).get_repo(REPO).get_workflow_run(100)

    assert (run.status, run.conclusion, run.run_attempt) == ("completed", "failure", 1)
    assert [pr.number for pr in run.pull_requests] == [7]
    jobs = list(run.jobs("latest"))
    assert len(jobs) == 65
    failed = [j for j in jobs if j.conclusion == "failure"]
    assert failed[0].steps[1].name == "Run tests"
    assert failed[0].check_run_url.endswith(f"/repos/{REPO}/check-runs/{failed[0].id}")
    pages = fake.find("GET", rf"/repos/{REPO}/actions/runs/100/jobs")
    assert [r.arg("page") for r in pages] == [None, "2", "3"]
    assert all(r.arg("filter") == "latest" for r in pages)


def test_link_header_is_absolute_and_keeps_the_query(fake: FakeGitHub) -> None:
    seed(fake, jobs=9)
    response = api(fake, "GET", f"/repos/{REPO}/actions/runs/100/jobs?filter=all&per_page=4")
    body = response.json()
    assert (body["total_count"], len(body["jobs"])) == (10, 4)
    links = {rel: link["url"] for rel, link in response.links.items()}
    assert set(links) == {"next", "last"}
    assert links["next"] == (
        f"{fake.url}/repos/{REPO}/actions/runs/100/jobs?filter=all&per_page=4&page=2"
    )
    last = api(fake, "GET", links["last"].removeprefix(fake.url))
    assert len(last.json()["jobs"]) == 2
    assert set(last.links) == {"first", "prev"}
    capped = api(fake, "GET", f"/repos/{REPO}/actions/runs/100/jobs?per_page=500")
    assert len(capped.json()["jobs"]) == 10  # per_page is capped at 100, never an error


def test_a_fork_run_lists_no_pull_requests(fake: FakeGitHub) -> None:
    fake.add_repo(REPO)
    fake.add_run(
        REPO, 5, head_sha=SHA, head_branch="patch-1", head_repo="fork/app", pull_requests=[3]
    )
    run = client(fake).get_repo(REPO).get_workflow_run(5)
    assert run.pull_requests == []  # as on GitHub: find the PR by head SHA instead
    assert run.head_repository.full_name == "fork/app"


def test_job_log_is_a_redirect_to_a_blob_that_refuses_the_token(fake: FakeGitHub) -> None:
    seed(fake)
    job = client(fake).get_repo(REPO).get_workflow_job(1002)

    location = job.logs_url()  # PyGithub does not follow this 302: it returns the Location
    assert location.startswith(f"{fake.blob_url}/_blobs/job-logs/{job.id}?")
    assert not location.startswith(fake.url)  # another host name, like the real one
    blob = HTTP.get(location, timeout=5)
    assert (blob.status_code, blob.content) == (
        200,
        f"line 1\nError: boom {job.id - 1000}\n".encode(),
    )
    assert "x-ratelimit-remaining" not in blob.headers
    leaked = HTTP.get(location, headers={"Authorization": f"token {fake.token}"})
    assert leaked.status_code == 400
    assert "InvalidAuthenticationInfo" in leaked.text
    assert HTTP.get(location.replace("sig=", "sig=0")).status_code == 403

    raw = api(fake, "GET", f"/repos/{REPO}/actions/jobs/{job.id}/logs")
    assert raw.status_code == 302  # httpx does not follow redirects unless asked


def test_log_of_a_running_job_is_not_found(fake: FakeGitHub) -> None:
    seed(fake, jobs=1, status="in_progress")
    fake.add_job(REPO, 100, job_id=2000, name="slow", status="in_progress")
    repo = client(fake).get_repo(REPO)
    with pytest.raises(github.UnknownObjectException):
        repo.get_workflow_job(2000).logs_url()
    assert repo.get_workflow_job(1000).logs_url()  # a finished job of the same run: fine


def test_annotations_of_a_jobs_check_run(fake: FakeGitHub) -> None:
    seed(fake, jobs=1)
    response = api(fake, "GET", f"/repos/{REPO}/check-runs/1000/annotations")
    [note] = response.json()
    assert note["annotation_level"] == "failure"
    assert note["message"] == "Process completed with exit code 1."
    assert {"path", "start_line", "end_line", "title", "raw_details"} <= set(note)


# --------------------------------------------------------------------------- re-runs


def test_rerun_is_refused_while_the_run_is_in_progress(fake: FakeGitHub) -> None:
    seed(fake, jobs=2, status="in_progress")
    run = client(fake).get_repo(REPO).get_workflow_run(100)

    with pytest.raises(GithubException) as refused:
        run.rerun_failed_jobs()
    assert refused.value.status == 403
    assert refused.value.data["message"] == "This workflow is already running"
    job_rerun = api(fake, "POST", f"/repos/{REPO}/actions/jobs/1000/rerun")
    assert job_rerun.status_code == 403
    assert fake.reruns == []

    fake.complete_run(REPO, 100, conclusion="failure")
    assert run.rerun_failed_jobs() is True
    assert fake.reruns == [("run", 100)]

    again = client(fake).get_repo(REPO).get_workflow_run(100)
    assert (again.run_attempt, again.status) == (2, "queued")
    assert again.conclusion is None  # PyGithub types it as str; GitHub sends null until done
    latest = {j.name: j for j in again.jobs("latest")}
    assert latest["lint"].id == 999  # passed: kept from attempt 1
    assert latest["test (0)"].id not in (1000, 1001)  # re-run: a new id in attempt 2
    assert latest["test (0)"].run_attempt == 2
    assert again.jobs("all").totalCount == 5
    attempt_2 = api(fake, "GET", f"/repos/{REPO}/actions/runs/100/attempts/2/jobs").json()
    assert sorted(j["name"] for j in attempt_2["jobs"]) == ["test (0)", "test (1)"]

    assert api(fake, "POST", f"/repos/{REPO}/actions/jobs/999/rerun").status_code == 403
    fake.complete_run(REPO, 100, conclusion="success")
    assert api(fake, "POST", f"/repos/{REPO}/actions/jobs/999/rerun").status_code == 201
    assert fake.reruns[-1] == ("job", 999)


# --------------------------------------------------------------------------- pulls, comments


def test_comments_are_created_listed_across_pages_and_edited(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    pull = client(fake, per_page=2).get_repo(REPO).get_pull(7)
    for i in range(4):
        pull.create_issue_comment(f"noise {i}")
    mine = pull.create_issue_comment("<!-- pipeline-guard -->\nfirst")

    found = [c for c in pull.get_issue_comments() if "<!-- pipeline-guard -->" in c.body]
    assert [c.id for c in found] == [mine.id]
    listed = fake.find("GET", rf"/repos/{REPO}/issues/7/comments")
    assert [(r.arg("per_page"), r.arg("page")) for r in listed] == [
        ("2", None),
        ("2", "2"),
        ("2", "3"),
    ]
    mine.edit("<!-- pipeline-guard -->\nsecond")
    assert fake.comments(REPO, 7)[-1].body.endswith("second")
    assert len(fake.comments(REPO, 7)) == 5

    with pytest.raises(GithubException) as too_long:
        pull.create_issue_comment("x" * 65537)
    assert too_long.value.status == 422
    assert pull.create_issue_comment("x" * 65536).body  # exactly the limit is fine


def test_pull_requests_create_duplicate_list_and_edit(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    repo = client(fake).get_repo(REPO)
    main = repo.get_git_ref("heads/main")
    repo.create_git_ref("refs/heads/pipeline-guard/fix-format", main.object.sha)

    pull = repo.create_pull(
        base="main", head="pipeline-guard/fix-format", title="Fix format", body="why", draft=True
    )
    assert (pull.number, pull.draft, pull.head.ref) == (8, True, "pipeline-guard/fix-format")
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="octo:pipeline-guard/fix-format", title="Again")
    assert duplicate.value.status == 422
    assert duplicate.value.data["errors"][0]["message"] == (
        "A pull request already exists for octo:pipeline-guard/fix-format."
    )

    open_fix = repo.get_pulls(state="open", head="octo:pipeline-guard/fix-format", base="main")
    assert [p.number for p in open_fix] == [8]
    bare = repo.get_pulls(state="open", head="pipeline-guard/fix-format")
    assert [p.number for p in bare] == [8, 7]  # no "owner:": GitHub ignores the filter
    assert [p.number for p in repo.get_pulls(state="all")] == [8, 7]  # newest first
    pull.edit(state="closed")
    assert [p.number for p in repo.get_pulls(state="closed")] == [8]

    pull.add_to_labels("pipeline-guard")
    pull.create_review_request(reviewers=["octocat"])
    assert fake.pulls[-1].labels == ["pipeline-guard"]
    assert fake.pulls[-1].requested_reviewers == ["octocat"]


# --------------------------------------------------------------------------- git database


def test_git_database_flow_creates_a_branch_with_a_changed_file(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    repo = client(fake).get_repo(REPO)
    head = repo.get_git_ref("heads/main").object.sha
    base_tree = fake.repos[REPO].git.commits[head].tree

    blob = repo.create_git_blob(base64.b64encode(b"x = 2\n").decode(), "base64")
    tree = api(
        fake,
        "POST",
        f"/repos/{REPO}/git/trees",
        json={
            "base_tree": base_tree,
            "tree": [
                {"path": "src/app.py", "mode": "100644", "type": "blob", "sha": blob.sha},
                {"path": "docs/new.md", "mode": "100644", "type": "blob", "content": "new\n"},
                {"path": "README.md", "mode": "100644", "type": "blob", "sha": None},
            ],
        },
    ).json()
    commit = api(
        fake,
        "POST",
        f"/repos/{REPO}/git/commits",
        json={"message": "style: format", "tree": tree["sha"], "parents": [head]},
    ).json()
    ref = repo.create_git_ref("refs/heads/pipeline-guard/format", commit["sha"])

    assert ref.object.sha == commit["sha"]
    assert fake.get_file(REPO, "pipeline-guard/format", "src/app.py") == b"x = 2\n"
    assert fake.get_file(REPO, "pipeline-guard/format", "docs/new.md") == b"new\n"
    assert fake.get_file(REPO, "pipeline-guard/format", "README.md") is None
    assert fake.get_file(REPO, "main", "src/app.py") == b"x = 1\n"
    content = repo.get_contents("src/app.py", ref="pipeline-guard/format")
    assert not isinstance(content, list)
    assert content.decoded_content == b"x = 2\n"

    # Content-addressed like git: `git hash-object` gives the same sha for the same bytes.
    assert blob.sha == hashlib.sha1(b"blob 6\0x = 2\n").hexdigest()
    again = repo.create_git_blob("x = 2\n", "utf-8")
    assert again.sha == blob.sha

    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/pipeline-guard/format", head)
    assert exists.value.data["message"] == "Reference already exists"
    with pytest.raises(GithubException) as not_ff:
        ref.edit(head)  # back to main's commit: not a fast-forward
    assert (not_ff.value.status, not_ff.value.data["message"]) == (
        422,
        "Update is not a fast forward",
    )
    ref.edit(head, force=True)
    assert fake.get_file(REPO, "pipeline-guard/format", "src/app.py") == b"x = 1\n"
    with pytest.raises(github.UnknownObjectException):
        repo.get_git_ref("heads/missing")  # non-lazy PyGithub fetches it right away


def test_workflow_files_need_the_workflows_permission() -> None:
    files = {".github/workflows/ci.yml": b"on: push\n"}
    cases: list[tuple[dict[str, str | None] | None, int]] = [
        (None, 422),  # the default: like GITHUB_TOKEN, no `workflows` permission
        ({"contents": "write", "workflows": "write"}, 201),
    ]
    for permissions, expected in cases:
        with FakeGitHub(permissions=permissions) as fake:
            fake.add_repo(REPO, files=files)
            repo = client(fake).get_repo(REPO)
            head = repo.get_git_ref("heads/main").object.sha
            tree = api(
                fake,
                "POST",
                f"/repos/{REPO}/git/trees",
                json={
                    "base_tree": fake.repos[REPO].git.commits[head].tree,
                    "tree": [
                        {"path": ".github/workflows/ci.yml", "mode": "100644", "content": "x"}
                    ],
                },
            ).json()
            commit = api(
                fake,
                "POST",
                f"/repos/{REPO}/git/commits",
                json={"message": "bump", "tree": tree["sha"], "parents": [head]},
            ).json()
            created = api(
                fake,
                "POST",
                f"/repos/{REPO}/git/refs",
                json={"ref": "refs/heads/bump", "sha": commit["sha"]},
            )
            assert created.status_code == expected
            if expected == 422:
                assert created.json()["message"] == (
                    "refusing to allow a GitHub App to create or update workflow "
                    "`.github/workflows/ci.yml` without `workflows` permission"
                )
                updated = api(
                    fake, "PATCH", f"/repos/{REPO}/git/refs/heads/main", json={"sha": commit["sha"]}
                )
                assert updated.status_code == 422
            assert check_requests(fake.requests) == []


# --------------------------------------------------------------------------- auth, limits, faults


def test_every_response_carries_rate_limit_headers(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    first = api(fake, "GET", f"/repos/{REPO}")
    second = api(fake, "GET", f"/repos/{REPO}/pulls/404")
    assert second.status_code == 404
    for response in (first, second):
        for name in ("limit", "remaining", "reset", "used", "resource"):
            assert f"x-ratelimit-{name}" in response.headers
        assert response.headers["x-github-request-id"]
    assert (
        int(second.headers["x-ratelimit-remaining"])
        == int(first.headers["x-ratelimit-remaining"]) - 1
    )
    assert int(first.headers["x-ratelimit-reset"]) > time.time()


def test_bad_or_missing_token_is_401() -> None:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        with pytest.raises(github.BadCredentialsException):
            client(fake, token="ghs_wrong").get_repo(REPO)
        anonymous = HTTP.get(f"{fake.url}/repos/{REPO}")
        assert anonymous.status_code == 401
        assert anonymous.json()["message"] == "Bad credentials"
        assert api(
            fake, "GET", f"/repos/{REPO}", headers={"Authorization": f"token {fake.token}"}
        ).is_success


def test_missing_permission_is_403_with_the_accepted_permissions() -> None:
    with FakeGitHub(permissions={"actions": "read", "contents": "read"}) as fake:
        seed(fake, jobs=1)
        run = client(fake).get_repo(REPO).get_workflow_run(100)
        with pytest.raises(GithubException) as refused:
            run.rerun_failed_jobs()
        assert refused.value.status == 403
        assert refused.value.data["message"] == "Resource not accessible by integration"
        assert (refused.value.headers or {})["x-accepted-github-permissions"] == "actions=write"
        comment = api(fake, "POST", f"/repos/{REPO}/issues/7/comments", json={"body": "hi"})
        assert comment.headers["x-accepted-github-permissions"] == (
            "issues=write; pull_requests=write"
        )
        assert check_requests(fake.requests) == []


def test_primary_rate_limit_is_waited_out_by_githubs_retry(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    repo = client(fake).get_repo(REPO)
    fake.exhaust_rate_limit(reset_in=0)
    assert repo.get_pull(7).number == 7  # GithubRetry slept until reset (+1 s at most)
    assert len(fake.find("GET", rf"/repos/{REPO}/pulls/7")) == 2

    fake.exhaust_rate_limit(reset_in=3600)
    with pytest.raises(github.RateLimitExceededException) as limited:
        client(fake, retry=None).get_repo(REPO)
    headers = limited.value.headers or {}
    assert headers["x-ratelimit-remaining"] == "0"
    assert int(headers["x-ratelimit-reset"]) >= time.time() + 3500


def test_secondary_rate_limit_sends_retry_after(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    repo = client(fake).get_repo(REPO)
    fake.secondary_rate_limit(retry_after=0, times=1)
    assert repo.get_pull(7).number == 7  # 403 + retry-after: GithubRetry retries
    fake.secondary_rate_limit(retry_after=1, status=429)
    limited = api(fake, "GET", f"/repos/{REPO}/pulls/7")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit")


def test_server_errors_and_slowness_come_from_the_base(fake: FakeGitHub) -> None:
    seed(fake, jobs=0)
    repo = client(fake).get_repo(REPO)
    fake.fail("GET", rf"/repos/{REPO}/pulls/7", 502, times=2)
    assert repo.get_pull(7).number == 7  # GithubRetry retries 5xx (no backoff by default)
    assert len(fake.find("GET", rf"/repos/{REPO}/pulls/7")) == 3
    fake.slow("GET", rf"/repos/{REPO}/pulls/7", 0.5)
    with pytest.raises(httpx.ReadTimeout):
        HTTP.get(f"{fake.url}/repos/{REPO}/pulls/7", timeout=0.1)


def test_unknown_endpoint_is_404_with_documentation_url() -> None:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        response = api(fake, "GET", f"/repos/{REPO}/actions/secrets")
        assert response.status_code == 404
        assert set(response.json()) >= {"message", "documentation_url"}
        assert api(fake, "GET", "/repos/nobody/nothing").status_code == 404
        assert check_requests(fake.find("GET", "/repos/nobody/nothing")) == []


# --------------------------------------------------------------------------- contract checker


def request(method: str, path: str, body: Any = None, **query: str) -> Request:
    """A recorded request as the fake would log it, for the checker alone."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"content-type": "application/json"} if data else {}
    return Request(method, path, {k: [v] for k, v in query.items()}, headers, data)


def test_contract_passes_good_requests() -> None:
    good = [
        request("GET", f"/repos/{REPO}/actions/runs/1/jobs", filter="latest", per_page="100"),
        request("POST", f"/repos/{REPO}/issues/7/comments", {"body": "hi"}),
        request("PATCH", f"/repos/{REPO}/git/refs/heads/feature/x", {"sha": SHA, "force": True}),
        request("GET", f"/repos/{REPO}/git/ref/heads%2Fmain"),
        request("GET", f"/repos/{REPO}/contents/src/app/main.py", ref="main"),
        request("POST", f"/repos/{REPO}/actions/runs/1/rerun-failed-jobs"),
        request("GET", f"/repos/{REPO}/check-runs/5/annotations"),  # allow-listed extras
        request("POST", f"/repos/{REPO}/issues/7/labels", {"labels": ["ci"]}),
        request("GET", "/_blobs/job-logs/5", sig="x"),  # the fake's blob host: skipped
    ]
    assert check_requests(good) == []


def test_contract_flags_bad_requests() -> None:
    problems = check_requests(
        [
            request("POST", f"/repos/{REPO}/issues/7/comments", {"bdy": "x"}),
            request("POST", f"/repos/{REPO}/issues/7/comments", {"body": "x", "extra": 1}),
            request("GET", f"/repos/{REPO}/actions/secrets"),
            request("GET", f"/repos/{REPO}/actions/runs/1/jobs", filter="newest"),
            request("GET", f"/repos/{REPO}/actions/runs/abc"),
            request("GET", f"/repos/{REPO}/pulls", stat="open"),
            request("POST", f"/repos/{REPO}/git/trees", {"tree": [{"path": "a", "contnet": "x"}]}),
            request("POST", f"/repos/{REPO}/issues/7/labels", {"label": ["ci"]}),
        ]
    )
    text = "\n".join(problems)
    assert "'body' is a required property" in text
    assert "'body.bdy'" in text
    assert "'body.extra'" in text
    assert f"GET /repos/{REPO}/actions/secrets: no such operation" in text
    assert "'newest' is not one of ['latest', 'all']" in text
    assert "run_id" in text
    assert "unknown query parameter 'stat'" in text
    assert "'body.tree[0].contnet'" in text
    assert "'body.label'" in text
    assert len(problems) == 9  # {"bdy"}: missing body and unknown key, one line each
