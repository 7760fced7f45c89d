""".pipeline-guard.yml: what it accepts, how it refuses, and its published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import REPO
from pipeline_guard.categories import Category
from pipeline_guard.errors import ConfigError
from pipeline_guard.guard.config import json_schema, load_config

SCHEMA_FILE = REPO / "schema" / "pipeline-guard.schema.json"
FULL = """\
model: none
comment: true
dry-run: false
actions:
  network: retry
  test-failure: comment
  lint: none
retry:
  max-attempts: 3
  max-failed-jobs: 4
fix:
  enabled: true
  categories: [format, lockfile]
  paths: ["src/**", "package-lock.json"]
  max-files: 10
  max-diff-bytes: 10000
  draft: true
  labels: [bot]
  reviewers: [octocat]
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".pipeline-guard.yml").write_text(text, encoding="utf-8")
    return tmp_path


def test_published_schema_is_the_generated_one() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == json_schema(), "regenerate schema/pipeline-guard.schema.json"


def test_every_documented_key_loads_and_validates_against_the_schema(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL))
    assert config.retry.max_attempts == 3
    assert config.fix.paths == ("src/**", "package-lock.json")
    assert config.actions[Category.LINT] == "none"
    jsonschema.validate(yaml.safe_load(FULL), json_schema())


def test_no_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert (config.retry.max_attempts, config.retry.max_failed_jobs) == (2, 5)
    assert config.comment is True
    assert config.dry_run is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retry:\n  max-atempts: 3\n", "retry.max-atempts: unknown key"),
        ("actions:\n  network: reboot\n", "actions.network"),
        ("actions:\n  networking: retry\n", "actions.networking"),
        ("dry-run: perhaps\n", "dry-run"),
        ("- a\n- b\n", "expected a mapping"),
        ("retry: [\n", "invalid YAML"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_explicit_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path, tmp_path / "missing.yml")
