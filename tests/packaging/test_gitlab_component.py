"""The GitLab CI/CD component (``templates/pipeline-guard.yml``) and the root file for
``include: project:``/``remote:`` (``.gitlab-ci-component.yml``): the same job, valid for
GitLab's schema (``../shared/tools/lint.sh``, on a copy holding only the GitLab files), built
the way the template's comments say, and a script that installs pipeline-guard when the image
lacks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, SHARED
from gitlab_env import (
    ROOT_COMPONENT,
    TEMPLATE,
    InputError,
    component_job,
    render_component,
    split_component,
)
from pipeline_guard import __version__

LINT = SHARED / "tools" / "lint.sh"
LINT_VENV = Path(
    os.environ.get("LINT_VENV") or Path(os.environ.get("TMPDIR", "/tmp")) / "pg-tools/venv"
)
EXAMPLES = sorted((REPO / "examples" / "gitlab").glob("*.gitlab-ci.yml"))


def as_job_sees_it(job: dict[str, Any]) -> dict[str, Any]:
    """A job with its variables as the job's environment holds them: strings (GitLab turns
    ``false`` and ``"false"`` alike into the text ``false``)."""
    variables = {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in (job.get("variables") or {}).items()
    }
    return {**job, "variables": variables}


def test_the_root_file_is_the_component_with_its_defaults() -> None:
    spec, _ = split_component(ROOT_COMPONENT.read_text(encoding="utf-8"))
    root = yaml.safe_load(ROOT_COMPONENT.read_text(encoding="utf-8"))
    name, job = component_job()

    assert spec == {}, "the root file is for includes without inputs"
    assert list(root) == [name]
    assert as_job_sees_it(root[name]) == as_job_sees_it(job)


def test_the_job_is_built_as_documented() -> None:
    name, job = component_job()

    assert name == "pipeline-guard"
    assert job["stage"] == ".post"
    assert job["when"] == "on_failure"
    assert job["allow_failure"] is True  # never a second failure, never keeps a pipeline red
    assert "needs" not in job  # `needs: []` would start it before anything failed
    assert job["dependencies"] == []
    assert job["image"]["entrypoint"] == [""]  # the image's entrypoint is `pipeline-guard run`
    assert job["inherit"] == {"default": ["tags"]}
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["paths"] == ["pipeline-guard-report.json"]
    assert job["script"][-1] == (
        "pipeline-guard run --platform gitlab --report pipeline-guard-report.json"
    )
    # The token reaches the job under another name than the variable it comes from: a job
    # variable that refers to itself is a circular reference for GitLab.
    assert job["variables"]["INPUT_TOKEN"] == "$PIPELINE_GUARD_TOKEN"
    assert "PIPELINE_GUARD_TOKEN" not in job["variables"]


def test_inputs_reach_the_job() -> None:
    name, job = component_job(
        {
            "job-name": "ci-doctor",
            "stage": "review",
            "token": "${GUARD_BOT_TOKEN}",
            "image": "registry.example.com/acme/ci:2026.1",
            "config": "ci/pipeline-guard.yml",
            "dry-run": True,
            "comment": False,
        }
    )

    assert name == "ci-doctor"
    assert job["stage"] == "review"
    assert job["image"]["name"] == "registry.example.com/acme/ci:2026.1"
    assert as_job_sees_it(job)["variables"] == {
        "INPUT_TOKEN": "${GUARD_BOT_TOKEN}",
        "PIPELINE_GUARD_CONFIG": "ci/pipeline-guard.yml",
        "PIPELINE_GUARD_DRY_RUN": "true",
        "PIPELINE_GUARD_COMMENT": "false",
        "PIPELINE_GUARD_INSTALL": f"pipeline-guard=={__version__}",
    }


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({"token": "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"}, "does not match required RegEx"),
        ({"token": "$PIPELINE_GUARD_TOKEN and more"}, "does not match required RegEx"),
        ({"dry-run": "yes"}, "is not a boolean"),
        ({"dryrun": True}, "unknown input name"),
    ],
)
def test_inputs_gitlab_would_refuse(inputs: dict[str, Any], error: str) -> None:
    """A token pasted into the YAML is refused at include time, before it can be used."""
    with pytest.raises(InputError, match=error):
        render_component(TEMPLATE, inputs)


def test_the_default_image_and_install_are_this_version() -> None:
    spec, _ = split_component(TEMPLATE.read_text(encoding="utf-8"))
    inputs = spec["inputs"]

    assert inputs["image"]["default"].endswith(f"/pipeline-guard:{__version__}")
    assert inputs["install"]["default"] == f"pipeline-guard=={__version__}"
    assert all(input_.get("description") for input_ in inputs.values())


@pytest.mark.e2e
@pytest.mark.tools
def test_schema_checks_of_lint_sh_pass_on_the_gitlab_files(tmp_path: Path) -> None:
    """lint.sh on a copy with only the GitLab files: the template (header and body) and the
    root file (as the `.gitlab-ci.yml` it is merged into). zizmor finds nothing to audit in
    such a copy (it reads GitHub files) and says so; tests/test_lint.py lints the whole repo."""
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    shutil.copy(ROOT_COMPONENT, tmp_path / ".gitlab-ci.yml")

    completed = _run([str(LINT), str(tmp_path)])

    checks = _lint_steps(completed.stdout)
    schema = {cmd: ok for cmd, ok in checks.items() if "check-jsonschema" in cmd}
    assert len(schema) == 2, completed.stdout + completed.stderr
    assert all(schema.values()), completed.stdout + completed.stderr
    others = [cmd for cmd, ok in checks.items() if not ok and "check-jsonschema" not in cmd]
    assert all("zizmor" in cmd for cmd in others), completed.stdout
    if others:
        assert "no inputs collected" in completed.stderr


@pytest.mark.e2e
@pytest.mark.tools
def test_the_examples_are_valid_pipelines(tmp_path: Path) -> None:
    check = LINT_VENV / "bin" / "check-jsonschema"
    if not check.exists():
        _run([str(LINT), str(tmp_path)])  # lint.sh installs its tools on first use
    completed = _run(
        [str(check), "--builtin-schema", "vendor.gitlab-ci", *(str(path) for path in EXAMPLES)]
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    includes = [yaml.safe_load(path.read_text())["include"][0] for path in EXAMPLES]
    assert sorted(next(iter(include)) for include in includes) == ["component", "local", "project"]


# -- the script: pipeline-guard from the image, or installed with the image's python3 -------

STUB_PYTHON = """\
#!/bin/sh
# A python3 that only knows `-m venv DIR`; the venv's python only `-m pip install REQ`, which
# leaves a pipeline-guard that prints its arguments.
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"
  cat > "$3/bin/python" <<'PY'
#!/bin/sh
echo "pip: $*" >&2
bin=$(dirname "$0")
printf '#!/bin/sh\\necho "pipeline-guard called with: $*"\\n' > "$bin/pipeline-guard"
chmod +x "$bin/pipeline-guard"
PY
  chmod +x "$3/bin/python"
fi
"""


def _script(job: dict[str, Any]) -> str:
    """The job's script as the runner's bash runs it (`set -eo pipefail`, one shell)."""
    return "set -eo pipefail\n" + "\n".join(job["script"]) + "\n"


def test_the_script_installs_pipeline_guard_when_the_image_lacks_it(tmp_path: Path) -> None:
    _, job = component_job({"install": "pipeline-guard==0.1.0"})
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "python3").write_text(STUB_PYTHON, encoding="utf-8")
    (stubs / "python3").chmod(0o755)
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "TMPDIR": str(tmp_path),
        "PIPELINE_GUARD_INSTALL": "pipeline-guard==0.1.0",
    }

    completed = _run(["/bin/bash", "-c", _script(job)], env=env, cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert f"installing pipeline-guard==0.1.0 into {tmp_path}/pipeline-guard" in completed.stdout
    assert "pip: -m pip install --quiet --disable-pip-version-check pipeline-guard==0.1.0" in (
        completed.stderr
    )
    assert completed.stdout.splitlines()[-1] == (
        "pipeline-guard called with: run --platform gitlab --report pipeline-guard-report.json"
    )


def test_the_script_without_pipeline_guard_or_python_says_what_to_do(tmp_path: Path) -> None:
    _, job = component_job()
    empty = tmp_path / "bin"
    empty.mkdir()

    completed = _run(["/bin/bash", "-c", _script(job)], env={"PATH": str(empty)}, cwd=tmp_path)

    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "pipeline-guard: error: the image has neither pipeline-guard nor python3 (3.11 or "
        "later): use the default image, or one with Python"
    )


def test_the_script_uses_the_image_pipeline_guard(tmp_path: Path) -> None:
    _, job = component_job()
    image_bin = tmp_path / "opt" / "bin"
    image_bin.mkdir(parents=True)
    (image_bin / "pipeline-guard").write_text(
        textwrap.dedent("""\
            #!/bin/sh
            echo "image's pipeline-guard: $*"
            """),
        encoding="utf-8",
    )
    (image_bin / "pipeline-guard").chmod(0o755)

    completed = _run(
        ["/bin/bash", "-c", _script(job)], env={"PATH": f"{image_bin}:/usr/bin:/bin"}, cwd=tmp_path
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        "image's pipeline-guard: run --platform gitlab --report pipeline-guard-report.json\n"
    )


# -- helpers ------------------------------------------------------------------------------


def _run(
    command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        timeout=600,
        check=False,
    )


def _lint_steps(output: str) -> dict[str, bool]:
    """lint.sh's steps: each ``+ command`` line, and whether no ``-> FAILED`` followed it."""
    steps: dict[str, bool] = {}
    last = ""
    for line in output.splitlines():
        if line.startswith("+ "):
            last = line[2:]
            steps[last] = True
        elif line.strip().startswith("-> FAILED") and last:
            steps[last] = False
    return steps
