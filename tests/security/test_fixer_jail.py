"""The fixer jail under attack (issue 15): repository code reaches no token by any route, and
a fix that writes outside the checkout, or through a symlink, is refused and undone.

The token probe is a "formatter" committed to the repository (``node_modules/.bin/prettier``,
trusted through ``fix.trust-repo-tools``, the worst case): it prints its environment, the
``environ`` of every process it can see and of each of its ancestors, the checkout's git config
and the runner's ``.npmrc``. It runs under a real guard process, started by a "CI shell"
holding the tokens, exactly as ``pipeline-guard run`` would start it. Each probe test has a
control: the same probe run outside the jail finds the tokens, so the probe itself works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixer_sites import apply_fix, cache_dir, reachable, through_guard
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import bundled_rules_dir, load_rule_dir
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers import formatters
from pipeline_guard.fixers.git import changed_files, git
from pipeline_guard.fixers.jail import tool_env
from pipeline_guard.fixers.repo_files import checked_version

SECRETS = {
    "GITHUB_TOKEN": "ghs_JailTestGithubToken0000000000000001",
    "INPUT_FIX-TOKEN": "ghp_JailTestFixToken00000000000000000002",
    "CI_JOB_JWT": "eyJhbGciOiJIUzI1NiJ9.JailTestJwt.Signature0003",
    "DEPLOY_KEY": "JailTestDeployKey0004",
    "DATABASE_URL": "postgres://app:JailTestDbPassword0005@db:5432/app",
    "HTTPS_PROXY": "http://proxyuser:JailTestProxyPassword0006@proxy:3128",
}
GIT_SECRET = "JailTestExtraHeader0007"
NPMRC_SECRET = "npm_JailTestNpmToken00000000000000000008"
ALL_SECRETS = [*SECRETS.values(), GIT_SECRET, NPMRC_SECRET]

PROBE = r"""#!/bin/sh
# A "prettier" that formats on --write and, on --check, looks for tokens everywhere.
case " $* " in
  *" --write "*) printf '// formatted\n' >> src/a.js; exit 0 ;;
esac
echo "probe: environment"; env
echo "probe: every process"
for dir in /proc/[0-9]*; do tr '\0' '\n' < "$dir/environ" 2>/dev/null; done
echo "probe: ancestors"
pid=$$
while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
  echo "ancestor $pid"; tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null
  pid=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
done
echo "probe: git"; cat .git/config 2>/dev/null; git config --list 2>/dev/null
echo "probe: npmrc"; cat "$HOME/.npmrc" NPMRC_PATH 2>/dev/null
echo "probes done"
"""

GUARD = """
import json, os, sys
from pathlib import Path
from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import GuardError
from pipeline_guard.fixers import jail
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.fix_request import prepare_fix

diagnosis_file, workspace, head, log, cache, mode = sys.argv[1:]
if mode == "namespace":  # as if pipeline-guard were not root: tools run in a namespace
    jail.unprivileged_user = lambda: None
context = RunContext(
    platform=Platform.GITHUB, mode=Mode.WORKFLOW_RUN, workspace=Path(workspace), head_sha=head
)
config = RepoConfig.model_validate({"fix": {"trust-repo-tools": True}})
diagnosis = Diagnosis.from_json(json.loads(Path(diagnosis_file).read_text()))
try:
    attempt = prepare_fix(
        diagnosis, context, config, log=Path(log), env=dict(os.environ), cache_dir=Path(cache)
    )
    print(attempt.verification)
except GuardError as exc:
    print(f"refused: {exc}")
"""


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rule_dir(bundled_rules_dir()))


def commit(repo: Path) -> str:
    run = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e"]
    if not (repo / ".git").exists():
        subprocess.run([*run, "init", "-q"], check=True)
    subprocess.run([*run, "add", "-A"], check=True)
    subprocess.run([*run, "commit", "-qm", "c"], check=True)
    return subprocess.run(
        [*run, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def write_log(tmp_path: Path, *lines: str) -> Path:
    log = tmp_path / "job.log"
    log.write_text("".join(f"2024-01-01T00:00:00.0000000Z {line}\n" for line in lines))
    return log


def prettier_failure(tmp_path: Path, matcher: Matcher) -> Diagnosis:
    log = write_log(
        tmp_path,
        "Checking formatting...",
        "[warn] src/a.js",
        "[warn] Code style issues found in the above file. Run Prettier with --write to fix.",
    )
    diagnosis = analyze_source(str(log), matcher)
    assert diagnosis.fix == "prettier", diagnosis
    return diagnosis


def probe_repo(tmp_path: Path, npmrc: Path) -> tuple[Path, str]:
    """A checkout with the probe as its committed prettier, a persisted token in its git
    config (as ``actions/checkout`` leaves one unless told not to)."""
    repo = reachable(tmp_path) / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src/a.js").write_text("const a = {b:1}\n")
    (repo / "package.json").write_text('{"name": "app"}\n')
    probe = repo / "node_modules/.bin/prettier"
    probe.parent.mkdir(parents=True)
    probe.write_text(PROBE.replace("NPMRC_PATH", str(npmrc)))
    probe.chmod(0o755)
    head = commit(repo)
    header = f"AUTHORIZATION: basic {GIT_SECRET}"
    key = "http.https://github.com/.extraheader"
    subprocess.run(["git", "-C", str(repo), "config", key, header], check=True)
    return repo, head


def runner_home(tmp_path: Path) -> Path:
    """The runner's home, closed to others as home folders are, with a token in .npmrc."""
    home = tmp_path / "runner-home"
    home.mkdir()
    (home / ".npmrc").write_text(f"//registry.npmjs.org/:_authToken={NPMRC_SECRET}\n")
    home.chmod(0o700)
    return home


def guard_under_ci_shell(
    tmp_path: Path, repo: Path, head: str, diagnosis: Diagnosis, *, home: Path, mode: str
) -> str:
    """``sh`` holding the tokens (the CI job) starts the guard, which runs the fix."""
    (tmp_path / "diagnosis.json").write_text(json.dumps(diagnosis.as_json()))
    (tmp_path / "guard.py").write_text(GUARD)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(sys.path),
        **SECRETS,
    }
    argv = [sys.executable, str(tmp_path / "guard.py"), str(tmp_path / "diagnosis.json")]
    argv += [str(repo), head, diagnosis.source, str(cache_dir()), mode]
    done = subprocess.run(
        ["sh", "-c", '"$@"; status=$?; exit $status', "ci-shell", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_probe_finds_every_token_outside_the_jail(tmp_path: Path) -> None:
    """The control: run directly by the guard's user with the guard's environment."""
    home = runner_home(tmp_path)
    repo, _ = probe_repo(tmp_path, home / ".npmrc")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), **SECRETS}
    probe = str(repo / "node_modules/.bin/prettier")
    found = subprocess.run(
        [probe, "--check"], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert all(secret in found for secret in ALL_SECRETS)


@pytest.mark.skipif(os.geteuid() != 0, reason="the nobody jail is the root guard's")
def test_a_repository_formatter_as_nobody_finds_no_token(tmp_path: Path, matcher: Matcher) -> None:
    home = runner_home(tmp_path)
    repo, head = probe_repo(tmp_path, home / ".npmrc")

    output = guard_under_ci_shell(
        tmp_path, repo, head, prettier_failure(tmp_path, matcher), home=home, mode="nobody"
    )

    assert "probes done" in output, output
    assert "ancestor" in output  # it did walk its ancestors
    assert [secret for secret in ALL_SECRETS if secret in output] == []
    assert "extraheader" in (repo / ".git/config").read_text()  # .git was closed, not erased
    assert changed_files(repo) == []  # and the workspace is restored


def test_a_repository_formatter_in_a_namespace_finds_no_token_in_env_proc_or_git(
    tmp_path: Path, matcher: Matcher
) -> None:
    """Where the guard is not root, tools run in a user+PID+mount namespace: no process of
    the guard's is visible and ``.git`` is covered. (The guard's user's own files, like its
    ``~/.npmrc``, stay readable there: docs/fixers.md.)"""
    home = runner_home(tmp_path)
    repo, head = probe_repo(tmp_path, home / ".npmrc")

    output = guard_under_ci_shell(
        tmp_path, repo, head, prettier_failure(tmp_path, matcher), home=home, mode="namespace"
    )

    assert "probes done" in output, output
    leaked = [secret for secret in [*SECRETS.values(), GIT_SECRET] if secret in output]
    assert leaked == []
    assert changed_files(repo) == []


def test_a_committed_prettier_does_not_run_unless_trusted(tmp_path: Path, matcher: Matcher) -> None:
    repo = reachable(tmp_path) / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src/a.js").write_text("const a = {b:1}\n")
    marker = tmp_path / "ran"
    probe = repo / "node_modules/.bin/prettier"
    probe.parent.mkdir(parents=True)
    probe.write_text(f"#!/bin/sh\n/usr/bin/touch {marker}\n")
    probe.chmod(0o755)
    commit(repo)
    no_npx = {"PATH": str(tmp_path / "empty-bin"), "HOME": str(tmp_path)}

    with pytest.raises(FixUnavailable, match="npx is not installed"):
        apply_fix(formatters, "prettier", prettier_failure(tmp_path, matcher), repo, env=no_npx)
    assert not marker.exists()

    apply_fix(
        formatters,
        "prettier",
        prettier_failure(tmp_path, matcher),
        repo,
        env=no_npx,
        trust=True,
    )
    assert marker.exists()


# -- writing outside the checkout --------------------------------------------------------------

BLACK = "24.4.2"
UGLY_PY = "x = {  'a':37,'b':42,\n'c':927}\n"


def black_failure(tmp_path: Path, matcher: Matcher, name: str) -> Diagnosis:
    log = write_log(tmp_path, f"would reformat /home/runner/work/app/app/{name}", "Oh no!")
    diagnosis = analyze_source(str(log), matcher)
    assert diagnosis.fix == "black", diagnosis
    return diagnosis


def victim(tmp_path: Path) -> Path:
    """A file outside the checkout that anyone may write (so only the check can save it)."""
    outside = reachable(tmp_path) / "outside"
    outside.mkdir()
    outside.chmod(0o755)
    file = outside / "victim.py"
    file.write_text(UGLY_PY)
    file.chmod(0o666)
    return file


def test_black_through_a_tracked_symlink_is_refused_and_undone(
    tmp_path: Path, matcher: Matcher
) -> None:
    target = victim(tmp_path)
    repo = reachable(tmp_path) / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text(f"black=={BLACK}\n")
    (repo / "a.py").symlink_to(target)
    commit(repo)

    with pytest.raises(FixError, match=r"wrote to .*victim\.py, outside the checkout"):
        through_guard(black_failure(tmp_path, matcher, "a.py"), repo)

    assert target.read_text() == UGLY_PY
    assert changed_files(repo) == []


def test_action_versions_does_not_rewrite_a_symlinked_workflow(
    tmp_path: Path, matcher: Matcher
) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text("jobs:\n  a:\n    steps:\n      - uses: actions/upload-artifact@v3\n")
    repo = reachable(tmp_path) / "repo"
    (repo / ".github/workflows").mkdir(parents=True)
    (repo / ".github/workflows/ci.yml").symlink_to(outside)
    commit(repo)
    log = write_log(
        tmp_path,
        "##[error]This request has been automatically failed because it uses a deprecated "
        "version of `actions/upload-artifact: v3`. Learn more: https://github.blog/x",
    )
    diagnosis = analyze_source(str(log), matcher)
    assert diagnosis.fix == "action-versions", diagnosis

    with pytest.raises(FixError, match="symlink"):
        through_guard(diagnosis, repo)

    assert "upload-artifact@v3" in outside.read_text()


def test_a_symlink_to_a_folder_outside_stops_every_fix(tmp_path: Path, matcher: Matcher) -> None:
    repo = reachable(tmp_path) / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text(f"black=={BLACK}\n")
    (repo / "a.py").write_text(UGLY_PY)
    (repo / "vendor").symlink_to(tmp_path)
    commit(repo)

    with pytest.raises(FixError, match="links to a folder outside the checkout"):
        through_guard(black_failure(tmp_path, matcher, "a.py"), repo)
    assert (repo / "a.py").read_text() == UGLY_PY


# -- versions read from repository files ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            ".pre-commit-config.yaml",
            "repos:\n  - repo: https://github.com/psf/black\n    rev: x/../../../victim\n"
            "    hooks:\n      - id: black\n",
        ),
        ("uv.lock", 'version = 1\n\n[[package]]\nname = "black"\nversion = "x/../../../victim"\n'),
        (
            ".pre-commit-config.yaml",
            "repos:\n  - repo: https://github.com/psf/black\n    rev: '1:2'\n"
            "    hooks:\n      - id: black\n",
        ),
        ("pyproject.toml", "a = " + "[" * 50_000 + "]" * 50_000 + "\n"),
        (".pre-commit-config.yaml", "repos: " + "[" * 50_000 + "]" * 50_000 + "\n"),
        (".pre-commit-config.yaml", "repos: 3\n"),
    ],
)
def test_a_hostile_pin_is_a_one_line_refusal(
    tmp_path: Path, matcher: Matcher, name: str, text: str
) -> None:
    cache_victim = cache_dir() / "victim"
    cache_victim.mkdir(parents=True, exist_ok=True)
    (cache_victim / "keep").write_text("precious")
    repo = reachable(tmp_path) / "repo"
    repo.mkdir()
    (repo / name).write_text(text)
    (repo / "a.py").write_text(UGLY_PY)
    commit(repo)

    with pytest.raises(FixError) as refused:
        apply_fix(formatters, "black", black_failure(tmp_path, matcher, "a.py"), repo)

    assert "\n" not in str(refused.value)
    assert (cache_victim / "keep").read_text() == "precious"
    assert not any(path.name.startswith("victim") for path in (cache_dir() / "tools").iterdir())


def test_versions_are_versions() -> None:
    assert checked_version("24.4.2", "black") == "24.4.2"
    assert checked_version("1.0.0-rc.1+build.5", "x") == "1.0.0-rc.1+build.5"
    for bad in ("x/../../../victim", "1:2", "..", "../x", "a b", "", "-rf", "1" * 80):
        with pytest.raises(FixError):
            checked_version(bad, "black")


# -- git and the environment -------------------------------------------------------------------


def test_no_git_call_of_the_guard_runs_the_checkouts_programs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n")
    (repo / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    commit(repo)
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.sh"
    evil.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\ncat\n')
    evil.chmod(0o755)
    for key in ("core.fsmonitor", "filter.evil.clean", "filter.evil.smudge", "diff.external"):
        subprocess.run(["git", "-C", str(repo), "config", key, str(evil)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "filter.evil.required", "true"], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "diff.evil.textconv", str(evil)], check=True)
    (repo / "a.py").write_text("x = 2\n")

    subprocess.run(["git", "-C", str(repo), "status"], capture_output=True, check=False)
    assert marker.exists(), "the control: plain git runs the checkout's programs"
    marker.unlink()

    assert changed_files(repo) == ["a.py"]
    git(repo, "diff", "--numstat", "--", "a.py")
    git(repo, "diff", "--", "a.py")
    git(repo, "checkout", "HEAD", "--", "a.py")
    assert not marker.exists()
    assert (repo / "a.py").read_text() == "x = 1\n"


def test_only_the_hardened_git_is_started_by_the_package() -> None:
    """Every git subprocess of pipeline-guard goes through fixers/git.py."""
    source = Path(__file__).parents[2] / "src" / "pipeline_guard"
    starts = [
        path.relative_to(source).as_posix()
        for path in source.rglob("*.py")
        if '["git"' in path.read_text() or "('git'" in path.read_text()
    ]
    assert starts == ["fixers/git.py"]


def test_the_tool_environment_is_an_allow_list() -> None:
    env = {
        **SECRETS,
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "NO_PROXY": "localhost",
        "PIP_INDEX_URL": "https://user:pw@pypi.example/simple",
        "NPM_AUTH": "x",
        "SLACK_WEBHOOK": "https://hooks.slack.com/services/T/B/x",
        "DOCKER_AUTH_CONFIG": "{}",
        "SOMETHING_NEW": "y",
    }
    assert tool_env(env) == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "NO_PROXY": "localhost",
    }


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
def test_npmrc_git_is_not_run_for_a_git_dependency(tmp_path: Path) -> None:
    """``.npmrc`` ``git=./tools/git`` plus a ``git+https`` dependency: npm would run the
    repository's git despite ``--ignore-scripts``; in the fixer it runs the system git."""
    repo = reachable(tmp_path) / "repo"
    (repo / "tools").mkdir(parents=True)
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    marker_dir.chmod(0o777)
    marker = marker_dir / "ran"
    (repo / "tools/git").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (repo / "tools/git").chmod(0o755)
    (repo / ".npmrc").write_text("git=./tools/git\n")
    (repo / "package.json").write_text(
        json.dumps({"name": "app", "dependencies": {"dep": "git+https://example.invalid/d.git"}})
    )
    (repo / "package-lock.json").write_text('{"name": "app", "lockfileVersion": 3}\n')
    commit(repo)

    control = subprocess.run(
        ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert marker.exists(), f"the control: npm runs .npmrc's git\n{control.stderr}"
    marker.unlink()
    subprocess.run(["git", "-C", str(repo), "checkout", "--", "."], check=True)

    diagnosis = Diagnosis.from_json(
        {
            "source": str(write_log(tmp_path, "npm error Missing: dep from lock file")),
            "category": "lockfile",
            "confidence": 0.9,
            "action": "fix-pr",
            "rule": "npm-ci-lockfile-out-of-sync",
            "title": "t",
            "explain": "e",
            "advice": "a",
            "evidence": [],
            "step": None,
            "tests": [],
            "fix": "npm-lockfile",
        }
    )
    with pytest.raises(FixError):  # the dependency cannot be fetched: no fix, and no git of ours
        through_guard(diagnosis, repo)
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start both sides as nobody")
@pytest.mark.parametrize("sealed", [False, True])
def test_a_sealed_guard_hides_its_environment_from_its_own_user(sealed: bool) -> None:
    """``seal_process`` (prctl PR_SET_DUMPABLE 0): a process of the guard's own user cannot
    read its ``/proc/<pid>/environ``; unsealed (the control), it can."""
    # The guard starts as root (to import from this checkout), becomes nobody, turns dumping
    # back on (changing user turns it off), then seals itself or not.
    script = (
        "import ctypes, os, sys, time\n"
        "from pipeline_guard.fixers.jail import seal_process\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)\n"
        f"{'seal_process()' if sealed else ''}\n"
        "print(flush=True); time.sleep(30)\n"
    )
    guard = subprocess.Popen(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": os.pathsep.join(sys.path), "SECRET": SECRETS["GITHUB_TOKEN"]},
        stdout=subprocess.PIPE,
    )
    try:
        assert guard.stdout is not None
        guard.stdout.readline()  # sealed (or not) by now
        reader = subprocess.run(
            ["cat", f"/proc/{guard.pid}/environ"],
            capture_output=True,
            user=65534,
            group=65534,
            extra_groups=[],
            check=False,
        )
    finally:
        guard.kill()
        guard.wait()
    assert (SECRETS["GITHUB_TOKEN"].encode() in reader.stdout) is not sealed
