"""Redaction: known secret values and well-known token shapes never leave the runner.

The tokens below are fakes with the documented prefix, length and alphabet, made up at run
time from a seeded generator: the source never spells a whole token, so secret scanners that
read this repository have nothing to flag, and nothing here was ever a real credential.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_guard.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    Redactor,
    secrets_from_env,
)

BASE62 = string.ascii_letters + string.digits
BASE64URL = BASE62 + "-_"
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


def fake(prefix: str, length: int, alphabet: str = BASE62, seed: int = 0) -> str:
    """``prefix`` + ``length`` characters of ``alphabet``: a token of the right shape."""
    rng = random.Random(f"{prefix}{length}{seed}")
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT = ".".join(
    (
        b64url(b'{"alg":"RS256","typ":"JWT","kid":"x"}'),
        b64url(b'{"sub":"repo:o/r:ref:refs/heads/main","aud":"https://github.com/o"}'),
        fake("", 86, BASE64URL),
    )
)

PEM_BODY = "\n".join(fake("", 64, BASE62 + "+/", seed=i) for i in range(5)) + "\nAbCdEf=="


def pem(kind: str, body: str = PEM_BODY, sep: str = "\n") -> str:
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    return sep.join((begin, body.replace("\n", sep), end))


# (id, log line with {tok} where the secret goes, the secret, what must replace it)
CASES: list[tuple[str, str, str, str]] = [
    # GitHub (github.blog "Behind GitHub's new authentication token formats")
    ("ghp", "remote: using {tok} to push", fake("ghp_", 36), "ghp_***"),
    ("gho", 'token = "{tok}"', fake("gho_", 36), 'token = "gho_***"'),
    ("ghu", "curl -u x:{tok} https://api.github.com", fake("ghu_", 36), "ghu_***"),
    ("ghs", "echo {tok} | gh auth login --with-token", fake("ghs_", 36), "ghs_***"),
    ("ghr", "refresh {tok} rotated", fake("ghr_", 36), "ghr_***"),
    (
        "github_pat",
        "gh: using {tok} (fine-grained)",
        fake("github_pat_", 22) + fake("_", 59, seed=1),
        "github_pat_***",
    ),
    # GitLab (docs.gitlab.com/security/tokens "Token prefixes")
    ("glpat", "fatal: Authentication failed for {tok}", fake("glpat-", 20, BASE64URL), "glpat-***"),
    (
        "glpat-routable",
        "using {tok} now",
        fake("glpat-", 27, BASE64URL) + ".01." + fake("", 9, HEX),
        "glpat-***",
    ),
    ("gloas", "oauth secret {tok} set", fake("gloas-", 64, BASE64URL), "gloas-***"),
    ("gldt", "deploy token {tok} used", fake("gldt-", 20, BASE64URL), "gldt-***"),
    ("glrt", "runner registered with {tok} ok", fake("glrt-", 20, BASE64URL), "glrt-***"),
    ("glrtr", "runner {tok} ok", fake("glrtr-", 20, BASE64URL), "glrtr-***"),
    ("glcbt", "job token {tok} expired", fake("glcbt-64_", 20, BASE64URL), "glcbt-***"),
    ("glptt", "trigger {tok} fired", fake("glptt-", 40, HEX), "glptt-***"),
    ("glft", "feed {tok} rss", fake("glft-", 20, BASE64URL), "glft-***"),
    ("glimt", "incoming mail {tok} configured", fake("glimt-", 25, BASE64URL), "glimt-***"),
    ("glagent", "agent {tok} connected", fake("glagent-", 50, BASE64URL), "glagent-***"),
    ("glsoat", "scim {tok} sync", fake("glsoat-", 20, BASE64URL), "glsoat-***"),
    ("glffct", "unleash {tok} client", fake("glffct-", 20, BASE64URL), "glffct-***"),
    ("glwt", "workspace {tok} ready", fake("glwt-", 20, BASE64URL), "glwt-***"),
    (
        "gitlab-runner-registration",
        "gitlab-runner register --registration-token {tok}",
        fake("GR1348941", 20, BASE64URL),
        "GR1348941***",
    ),
    # AWS
    ("aws-akia", "Using access key {tok} for s3", fake("AKIA", 16, UPPER_DIGITS), "AKIA***"),
    ("aws-asia", "session key {tok} expires", fake("ASIA", 16, UPPER_DIGITS), "ASIA***"),
    (
        "aws-secret-ini",
        "aws_secret_access_key = {tok}",
        fake("", 40, BASE62 + "/+"),
        "aws_secret_access_key = ***",
    ),
    (
        "aws-secret-env",
        "export AWS_SECRET_ACCESS_KEY={tok}",
        fake("", 40, BASE62 + "/+", seed=2),
        "AWS_SECRET_ACCESS_KEY=***",
    ),
    # Slack
    (
        "xoxb",
        "slack: posting with {tok}",
        fake("xoxb-", 12, string.digits) + fake("-", 24),
        "xoxb-***",
    ),
    ("xoxp", "slack user {tok} ok", fake("xoxp-", 12, string.digits) + fake("-", 32), "xoxp-***"),
    ("xoxa", "slack app {tok} ok", fake("xoxa-2-", 30), "xoxa-***"),
    ("xoxr", "slack refresh {tok} ok", fake("xoxr-", 40), "xoxr-***"),
    (
        "slack-webhook",
        "POST https://{tok} 404",
        "hooks.slack.com/services/"
        + fake("T", 10, UPPER_DIGITS)
        + fake("/B", 10, UPPER_DIGITS)
        # the secret part of the webhook is the path after services/
        + fake("/", 24),
        "hooks.slack.com/services/***",
    ),
    # npm, PyPI
    ("npm", "npm notice using {tok}", fake("npm_", 36), "npm_***"),
    (
        "npmrc",
        "//registry.npmjs.org/:_authToken={tok}",
        fake("", 36, HEX),
        "//registry.npmjs.org/:_authToken=***",
    ),
    ("npmrc-auth", "_auth={tok}", fake("", 24, BASE62 + "="), "_auth=***"),
    (
        "pypi",
        "twine upload -p {tok} dist/*",
        fake("pypi-AgEIcHlwaS5vcmc", 120, BASE64URL),
        "pypi-***",
    ),
    # Other unmistakable prefixes
    ("dockerhub", "docker login -p {tok}", fake("dckr_pat_", 27, BASE64URL), "dckr_pat_***"),
    ("google-api", "maps key={tok}", fake("AIza", 35, BASE64URL), "key=AIza***"),
    ("google-api-bare", "maps {tok} quota", fake("AIza", 35, BASE64URL, seed=3), "AIza***"),
    ("stripe", "charging with {tok}", fake("sk_live_", 24), "sk_live_***"),
    # JWT
    ("jwt", "OIDC: received {tok} from provider", JWT, "received *** from"),
    ("jwt-unsigned", "claims {tok} !", JWT.rsplit(".", 1)[0] + ".", "claims *** !"),
    # URLs with credentials
    (
        "url-user-pass",
        "git clone https://x-access-token:{tok}@github.com/o/r.git",
        fake("", 40),
        "https://x-access-token:***@github.com/o/r.git",
    ),
    (
        "url-at-in-password",
        "pip install git+https://bob:{tok}@pypi.example.com/simple",
        "p@ss" + fake("", 12),
        "https://bob:***@pypi.example.com/simple",
    ),
    (
        "url-token-as-user",
        "fetch https://{tok}@github.com/o/r",
        fake("", 40, BASE62, seed=4),
        "https://***@github.com/o/r",
    ),
    (
        "url-gitlab-ci-token",
        "Cloning https://gitlab-ci-token:{tok}@gitlab.com/g/p.git",
        fake("", 20, BASE64URL, seed=5),
        "https://gitlab-ci-token:***@gitlab.com/g/p.git",
    ),
    (
        "url-postgres",
        "DATABASE_URL=postgres://app:{tok}@db:5432/app",
        fake("", 16, seed=6),
        "postgres://app:***@db:5432/app",
    ),
    # Authorization headers
    ("bearer", "> Authorization: Bearer {tok}", fake("", 40, seed=7), "Authorization: Bearer ***"),
    ("basic", "authorization: Basic {tok}", "dXNlcjpwYXNzd29yZDEyMw==", "authorization: Basic ***"),
    (
        "token-header",
        "-H 'Authorization: token {tok}'",
        fake("", 40, seed=8),
        "'Authorization: token ***'",
    ),
    (
        "private-token",
        'curl -H "PRIVATE-TOKEN: {tok}" x',
        fake("", 20, seed=9),
        "PRIVATE-TOKEN: ***",
    ),
    ("x-api-key", "X-Api-Key: {tok}", fake("", 32, HEX), "X-Api-Key: ***"),
    # Assignments: keep the key, mask the value
    ("password=", "mysql --password={tok} -h db", "Tr0ub4dor&3x", "--password=*** -h db"),
    ("passwd:", "passwd: {tok}", "correct-horse", "passwd: ***"),
    ("secret=", "CLIENT_SECRET={tok} ./run", fake("", 32, seed=10), "CLIENT_SECRET=*** ./run"),
    # the value runs to the next whitespace or quote: '&page=2' goes too, rather than risk
    # leaking the end of a password that contains '&'
    (
        "token=",
        "GET /x?access_token={tok}&page=2 200",
        fake("", 30, seed=11),
        "x?access_token=***&page=2 200",
    ),
    ("api_key=", "api_key = '{tok}'", fake("", 32, seed=12), "api_key = '***'"),
    ("json", '{{"password": "{tok}", "user": "bob"}}', "s3cr3t pass", '"password": "***", "user"'),
    ("yaml", "  db_password: {tok}", "hunter2hunter2", "db_password: ***"),
    ("flag", "vault login --token {tok} -method=x", fake("", 26, seed=13), "--token *** -method"),
]


@pytest.mark.parametrize(
    ("line", "token", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_pattern_masks_a_real_format_fake(line: str, token: str, expected: str) -> None:
    text = line.format(tok=token)
    out = Redactor().redact(text)
    assert token not in out
    assert expected in out
    before, after = line.split("{tok}")
    # the surrounding text survives (formatting braces of the JSON case undone)
    assert before.replace("{{", "{").split()[0] in out or not before.strip()
    assert after.replace("}}", "}").strip()[-3:] in out
    assert Redactor().redact(out) == out


def test_masked_line_reads_well() -> None:
    token = fake("ghp_", 36)
    text = f"2024-05-01T10:00:00Z remote: Invalid username or token {token}. Password auth..."
    assert Redactor().redact(text) == (
        "2024-05-01T10:00:00Z remote: Invalid username or token ghp_***. Password auth..."
    )


@pytest.mark.parametrize(
    "kind", ["RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"]
)
def test_private_key_block_is_masked_between_header_and_footer(kind: str) -> None:
    text = f"key material:\n{pem(kind)}\nnext step: ok"
    out = Redactor().redact(text)
    assert out == f"key material:\n-----BEGIN {kind}-----\n***\n-----END {kind}-----\nnext step: ok"


def test_private_key_variants() -> None:
    redactor = Redactor()
    lines = PEM_BODY.splitlines()
    # cut off (a truncated log): the body up to the end is masked
    cut = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines[:3]) + "\n" + lines[3][:20]
    assert redactor.redact(cut) == "-----BEGIN RSA PRIVATE KEY-----\n***"
    # cut off, then log lines continue: only the key-shaped lines go
    cut_then_log = cut + "\n##[error]Process completed with exit code 1."
    assert redactor.redact(cut_then_log) == (
        "-----BEGIN RSA PRIVATE KEY-----\n***\n##[error]Process completed with exit code 1."
    )
    # inside a JSON string, with escaped line breaks
    escaped = json.dumps({"key": pem("PRIVATE KEY")})
    out = redactor.redact(escaped)
    assert all(line not in out for line in lines)
    assert out.startswith('{"key": "-----BEGIN PRIVATE KEY-----')
    # GitHub log timestamps in front of each line
    stamped = "\n".join(
        f"2024-05-01T10:00:0{i}.1234567Z {line}"
        for i, line in enumerate(pem("RSA PRIVATE KEY").splitlines())
    )
    out = redactor.redact(stamped)
    assert all(line not in out for line in lines)
    assert "-----END RSA PRIVATE KEY-----" in out
    # collapsed to one line (an env var echoed without quotes)
    one_line = pem("OPENSSH PRIVATE KEY", sep=" ")
    assert redactor.redact(one_line) == (
        "-----BEGIN OPENSSH PRIVATE KEY----- *** -----END OPENSSH PRIVATE KEY-----"
    )
    # encrypted legacy PEM with RFC 1421 headers, and a PGP key block
    encrypted = pem(
        "RSA PRIVATE KEY", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0011AABB\n\n" + PEM_BODY
    )
    assert redactor.redact(encrypted).count("\n") == 2
    pgp = pem("PGP PRIVATE KEY BLOCK", "Version: GnuPG v2\n\n" + PEM_BODY + "\n=AbCd")
    assert redactor.redact(pgp) == (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n***\n-----END PGP PRIVATE KEY BLOCK-----"
    )


NOT_SECRETS = [
    pytest.param("ghp_", id="bare-ghp-prefix"),
    pytest.param(
        "the ghp_ prefix marks a classic PAT; glpat- a GitLab one", id="prefixes-in-prose"
    ),
    pytest.param("ghp_short123", id="ghp-too-short"),
    pytest.param("HEAD is now at 3f786850e387550fdab836ed7e6dc881de23001b fix", id="git-sha"),
    pytest.param("request-id 123e4567-e89b-12d3-a456-426614174000", id="uuid"),
    pytest.param("digest: sha256:" + "ab" * 32, id="image-digest"),
    pytest.param('"integrity": "sha512-' + fake("", 86, BASE62 + "+/") + '=="', id="lockfile-hash"),
    pytest.param("password: ${{ secrets.DB_PASSWORD }}", id="actions-expression"),
    pytest.param("token: ${{ github.token }}", id="actions-token-expression"),
    pytest.param("password=", id="empty-value"),
    pytest.param('password: ""', id="empty-quoted"),
    pytest.param("password: ***", id="already-masked"),
    pytest.param("PASSWORD: [MASKED]", id="gitlab-masked"),
    pytest.param('curl -H "PRIVATE-TOKEN: $GITLAB_TOKEN" https://gitlab.com', id="shell-var"),
    pytest.param("--password ${REGISTRY_PASSWORD}", id="shell-braced-var"),
    pytest.param("api_key=<your-api-key>", id="doc-placeholder"),
    pytest.param("set password=%DB_PASSWORD%", id="windows-var"),
    pytest.param("verify_token: false", id="boolean"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9 is a JOSE header, not a token", id="eyJ-alone"),
    pytest.param("eyJ.eyJ.x", id="eyJ-too-short"),
    pytest.param("TokenError: ('EOF in multi-line statement', (1, 0))", id="python-tokenerror"),
    pytest.param("SyntaxError: Unexpected token '}' in JSON", id="js-unexpected-token"),
    pytest.param("usage: max_tokens: 100 tokens: 5", id="tokens-count"),
    pytest.param("echo $PASS | docker login --password-stdin ghcr.io", id="password-stdin"),
    pytest.param("PWD=/home/runner/work/repo/repo", id="pwd"),
    pytest.param("password_file=/run/secrets/db", id="password-file"),
    pytest.param("see https://github.com/o/r/pull/1 and http://localhost:8080/x", id="plain-urls"),
    pytest.param("ssh://git@github.com/o/r.git and bob@example.com", id="user-only-urls"),
    pytest.param("Error: Authorization header is missing", id="authorization-prose"),
    pytest.param(
        "-----BEGIN CERTIFICATE-----\nMIIB" + "A" * 60 + "\n-----END CERTIFICATE-----",
        id="certificate",
    ),
    pytest.param(
        "-----BEGIN PUBLIC KEY-----\nMIIB" + "A" * 60 + "\n-----END PUBLIC KEY-----",
        id="public-key",
    ),
    pytest.param(
        "npm ERR! code ECONNRESET\nnpm ERR! network request to https://registry.npmjs.org/x failed",
        id="npm-log",
    ),
    pytest.param(
        "FAILED tests/test_api.py::test_login - AssertionError: assert 401 == 200", id="pytest-log"
    ),
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_text_that_only_looks_secret_survives(text: str) -> None:
    assert Redactor().redact(text) == text


def test_aws_documentation_example_key_is_masked_too() -> None:
    # AKIAIOSFODNN7EXAMPLE is AWS's documented example: masking it costs nothing, and telling
    # examples from real keys is not worth a rule.
    assert Redactor().redact("key AKIAIOSFODNN7EXAMPLE") == "key AKIA***"


# ------------------------------------------------------------------------------------------
# Known values
# ------------------------------------------------------------------------------------------

SECRET = "s3cr3t-V4lue/with+chars=@!&<"


def test_known_value_is_masked_everywhere_it_appears() -> None:
    redactor = Redactor([SECRET])
    text = f"a {SECRET} b {SECRET}c\n{SECRET}"
    assert redactor.redact(text) == "a *** b ***c\n***"


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(quote(SECRET, safe=""), id="url-encoded"),
        pytest.param(quote_plus("pass word " + SECRET), id="url-encoded-plus"),
        pytest.param(json.dumps(SECRET)[1:-1], id="json-escaped"),
        pytest.param(SECRET.replace("&", "&amp;").replace("<", "&lt;"), id="xml-escaped"),
        pytest.param(base64.b64encode(SECRET.encode()).decode(), id="base64"),
        pytest.param(base64.urlsafe_b64encode(SECRET.encode()).decode(), id="base64url"),
    ],
)
def test_known_value_is_masked_in_its_common_encodings(encoded: str) -> None:
    redactor = Redactor([SECRET, "pass word " + SECRET])
    out = redactor.redact(f"sent {encoded} to server")
    assert out.startswith("sent ")
    assert out.endswith(" to server")
    assert "***" in out
    # at most the few characters that also encode what follows may remain
    assert len(out) <= len("sent  to server") + len(MASK) + 3


@pytest.mark.parametrize("prefix", ["", "x", "xy", "x-access-token:", "user:"])
def test_known_value_is_masked_inside_a_larger_base64_blob(prefix: str) -> None:
    token = fake("", 40, seed=20)
    redactor = Redactor([token])
    blob = base64.b64encode(f"{prefix}{token}\n".encode()).decode()
    out = redactor.redact(f"auth: {blob}")
    assert MASK in out
    # what is left is the encoded prefix and at most a few characters at each edge
    encoded_prefix = base64.b64encode(prefix.encode()).decode().rstrip("=")
    assert len(out) <= len("auth: ") + len(encoded_prefix) + len(MASK) + 6


def test_multiline_secret_is_masked_whole_and_line_by_line() -> None:
    key = pem("RSA PRIVATE KEY")
    redactor = Redactor([key + "\n"])
    # whole
    assert redactor.redact(f"k={key}") == "k=***"
    # line by line, as a tool printing it with a prefix per line would
    lines = key.splitlines()
    printed = "\n".join(f"debug: {line}" for line in lines[1:-1])
    out = redactor.redact(printed)
    assert all(line not in out for line in lines[1:-2])
    assert out.startswith("debug: ***")


def test_short_values_are_not_masked() -> None:
    redactor = Redactor(["1", "true", "main", "x" * (MIN_SECRET_LENGTH - 1), "   ab   ", "******"])
    text = "exit 1 true main xxxxx ab ******"
    assert redactor.redact(text) == text
    assert len(redactor) == 0


def test_values_with_regex_metacharacters_and_unicode() -> None:
    secrets = ["a.b*c+d?(e)[f]{g}|h^$\\", "pässwörd-ünïcode", "tab\there", "\udcff\udcfeabcdef"]
    redactor = Redactor(secrets)
    for secret in secrets:
        assert redactor.redact(f"<{secret}>") == "<***>"
    assert redactor.redact("a.bxc+d") == "a.bxc+d"


def test_longest_value_wins_and_adjacent_values_merge() -> None:
    redactor = Redactor(["abcdefgh", "abcdefghijkl", "mnopqrst"])
    assert redactor.redact("[abcdefghijkl]") == "[***]"
    assert redactor.redact("[abcdefghmnopqrst]") == "[***]"


def test_add_after_redact_takes_effect() -> None:
    redactor = Redactor()
    assert redactor.redact("value hunter22") == "value hunter22"
    redactor.add("hunter22")
    assert redactor.redact("value hunter22") == "value ***"
    redactor.add("hunter22")  # again: no-op
    assert redactor.redact("value hunter22") == "value ***"


def test_repr_does_not_leak() -> None:
    redactor = Redactor([SECRET])
    assert SECRET not in repr(redactor)
    assert SECRET not in str(redactor)


def test_empty_text() -> None:
    assert Redactor([SECRET]).redact("") == ""


def test_many_secrets_and_large_text_stay_fast() -> None:
    secrets = [fake("", 30, seed=i) for i in range(500)]
    redactor = Redactor(secrets)
    line = "2024-05-01T10:00:00Z npm ERR! password=abc https://u:p@h/x ghp_ eyJ -----BEGIN\n"
    text = (line * (65_536 // len(line))) + secrets[250]
    start = time.perf_counter()
    out = redactor.redact(text)
    assert time.perf_counter() - start < 2.0
    assert secrets[250] not in out
    # a key header repeated without any footer must not make the work quadratic
    headers = "-----BEGIN RSA PRIVATE KEY-----" * 20_000
    start = time.perf_counter()
    redactor.redact(headers)
    assert time.perf_counter() - start < 2.0


# ------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------

SECRET_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*")
FRAGMENTS = st.sampled_from(
    [
        "password=",
        "token: ",
        "api_key=",
        '"secret": "',
        "Authorization: Bearer ",
        "Basic ",
        "https://",
        "user:",
        "@",
        "/",
        "://",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "\n",
        "\\n",
        " ",
        "=",
        ":",
        "'",
        '"',
        "&",
        "$",
        "${{",
        "}}",
        "***",
        "*",
        "ghp_",
        "glpat-",
        "AKIA",
        "eyJ",
        ".",
        "xoxb-",
        "npm_",
        "pypi-Ag",
        "--token ",
        "_authToken=",
        "GR1348941",
        "A" * 16,
        "abcDEF0123456789xyz",
        "-",
        "_",
    ]
)
INTERESTING_TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.text(),
    after=st.text(),
    secret=st.text(SECRET_ALPHABET, min_size=MIN_SECRET_LENGTH, max_size=40),
)
def test_planted_secret_never_survives(before: str, after: str, secret: str) -> None:
    redactor = Redactor([secret])
    out = redactor.redact(before + secret + after)
    assert secret not in out
    assert redactor.redact(out) == out


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(text=INTERESTING_TEXT, secret=st.text(SECRET_ALPHABET, min_size=6, max_size=12))
def test_redaction_is_idempotent(text: str, secret: str) -> None:
    redactor = Redactor([secret])
    once = redactor.redact(text)
    assert redactor.redact(once) == once


@given(text=st.text(st.characters(exclude_categories=())))
def test_never_raises(text: str) -> None:
    out = Redactor(["abcdefgh"]).redact(text)
    assert isinstance(out, str)


# ------------------------------------------------------------------------------------------
# Secrets from the environment
# ------------------------------------------------------------------------------------------

GITHUB_ENV = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "GITHUB_EVENT_NAME": "workflow_run",
    "GITHUB_REPOSITORY": "octo/app",
    "GITHUB_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
    "GITHUB_WORKSPACE": "/home/runner/work/app/app",
    "GITHUB_API_URL": "https://api.github.com",
    "GITHUB_TOKEN": fake("ghs_", 36, seed=30),
    "INPUT_GITHUB-TOKEN": fake("ghs_", 36, seed=30),
    "INPUT_FIX-TOKEN": fake("github_pat_", 82, BASE62 + "_", seed=31),
    "INPUT_LOG-FILE": "build/*.log",
    "INPUT_DRY-RUN": "false",
    "ACTIONS_RUNTIME_TOKEN": JWT,
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.githubusercontent.com/abc/idtoken",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": fake("", 40, seed=32),
    "ACTIONS_CACHE_URL": "https://artifactcache.actions.githubusercontent.com/abc/",
    "RUNNER_OS": "Linux",
    "RUNNER_TEMP": "/home/runner/work/_temp",
    "SSH_AUTH_SOCK": "/tmp/ssh-XXXXabcdef/agent.1234",
    "PWD": "/home/runner/work/app/app",
    # secrets.* passed as env: by the step's author
    "NPM_TOKEN": fake("npm_", 36, seed=33),
    "DB_PASSWORD": "Tr0ub4dor&3",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/" + fake("", 24, seed=34),
    "AWS_ACCESS_KEY_ID": fake("AKIA", 16, UPPER_DIGITS, seed=35),
    "AWS_SECRET_ACCESS_KEY": fake("", 40, BASE62 + "/+", seed=36),
    "DEPLOY_KEY": pem("OPENSSH PRIVATE KEY") + "\n",
    "TOKEN_FILE": "/run/secrets/token",
    "AUTH_PROVIDER": "github",
    "TOKEN_TTL": "3600",
    "SECRET_NAME": "prod-db-credentials",
    "GH_PAT": fake("ghp_", 36, seed=37),
}


def test_secrets_from_github_actions_env() -> None:
    found = secrets_from_env(GITHUB_ENV)
    env = GITHUB_ENV
    expected = [
        env["GITHUB_TOKEN"],  # INPUT_GITHUB-TOKEN holds the same value: listed once
        env["INPUT_FIX-TOKEN"],
        env["ACTIONS_RUNTIME_TOKEN"],
        env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        env["NPM_TOKEN"],
        env["DB_PASSWORD"],
        env["SLACK_WEBHOOK_URL"],
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
        env["DEPLOY_KEY"],
        env["GH_PAT"],
    ]
    assert found == expected
    # what is not a secret
    for name in (
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "SSH_AUTH_SOCK",
        "TOKEN_FILE",
        "AUTH_PROVIDER",
        "TOKEN_TTL",
        "SECRET_NAME",
        "INPUT_DRY-RUN",
        "GITHUB_SHA",
        "PWD",
    ):
        assert env[name] not in found, name


GITLAB_ENV = {
    "CI": "true",
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.com",
    "CI_PROJECT_PATH": "group/app",
    "CI_PIPELINE_ID": "1234567890",
    "CI_COMMIT_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
    "CI_JOB_TOKEN": fake("glcbt-64_", 20, BASE64URL, seed=40),
    "CI_REPOSITORY_URL": "https://gitlab-ci-token:[MASKED]@gitlab.com/group/app.git",
    "CI_REGISTRY_USER": "gitlab-ci-token",
    "CI_REGISTRY_PASSWORD": fake("glcbt-64_", 20, BASE64URL, seed=40),
    "CI_JOB_JWT_V2": JWT,
    "CI_DEPENDENCY_PROXY_USER": "gitlab-ci-token",
    "CI_DEPENDENCY_PROXY_PASSWORD": fake("glcbt-64_", 20, BASE64URL, seed=40),
    "CI_JOB_TOKEN_SCOPE": "enabled",
    "GITLAB_TOKEN": fake("glpat-", 20, BASE64URL, seed=41),
    "PIPELINE_GUARD_TOKEN": fake("glpat-", 20, BASE64URL, seed=42),
    "DOCKER_AUTH_CONFIG": '{"auths":{"r.example.com":{"auth":"' + fake("", 24, seed=43) + '"}}}',
    "SONAR_TOKEN": fake("", 40, HEX, seed=44),
    "FF_USE_FASTZIP": "true",
    "CI_SERVER_TLS_CA_FILE": "/builds/group/app.tmp/CI_SERVER_TLS_CA_FILE",
    "MY_API_KEY": "short",  # too short to mask
}


def test_secrets_from_gitlab_env() -> None:
    env = GITLAB_ENV
    assert secrets_from_env(env) == [
        env["CI_JOB_TOKEN"],
        env["CI_JOB_JWT_V2"],
        env["GITLAB_TOKEN"],
        env["PIPELINE_GUARD_TOKEN"],
        env["DOCKER_AUTH_CONFIG"],
        env["SONAR_TOKEN"],
    ]


def test_env_secrets_feed_a_redactor() -> None:
    redactor = Redactor.from_env(GITHUB_ENV)
    log = "\n".join(f"{name} is {value}" for name, value in GITHUB_ENV.items())
    out = redactor.redact(log)
    for value in secrets_from_env(GITHUB_ENV):
        for line in value.strip().splitlines():
            assert line not in out
    assert "RUNNER_OS is Linux" in out
    assert "ACTIONS_ID_TOKEN_REQUEST_URL is https://pipelines" in out


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("MY_SERVICE_TOKEN", True),
        ("my-service.password", True),
        ("STRIPE_SECRET_KEY", True),
        ("SIGNING_KEY", True),
        ("PRIVATE_KEY", True),
        ("SSH_PRIVATE_KEY", True),
        ("OPENAI_API_KEY", True),
        ("GCP_CREDENTIALS", True),
        ("REGISTRY_PASS", True),
        ("VAULT_SECRET_ID", True),
        ("BASIC_AUTH", True),
        ("TEAMS_WEBHOOK_URL", True),
        ("CACHE_KEY", False),
        ("KEY", False),
        ("GITHUB_TOKEN_URL", False),
        ("OIDC_TOKEN_PATH", False),
        ("PASSWORD_MIN_LENGTH", False),
        ("TOKENIZER_MODEL", False),
        ("PASSENGER_APP_ENV", False),
        ("BYPASS_CACHE", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    value = fake("", 24, seed=50)
    assert secrets_from_env({name: value}) == ([value] if secret else [])
