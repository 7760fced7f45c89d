# ruff: noqa: E501 - one secret format per line reads better than wrapped literals
"""Secret formats for the security tests, written by hand from the vendors' documented token
formats (prefix, length, alphabet), not generated from the rule set redact.py adopts, so the
tests check gitleaks' rules and our own patterns against the real world rather than against
themselves.

Each :class:`SecretCase` is a secret and the text around it in a failing log line: bare (a
token with a documented prefix is recognisable anywhere), or in the context where a
prefix-less secret shows up in CI (``NAME=value``, a header, a URL, a command line). Values are
random (seeded), so no real credential is in this file, and none of them is a placeholder.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass

_RNG = random.Random(15)
B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
UPPER_DIGITS = string.ascii_uppercase + string.digits
B64URL = B62 + "-_"
B64 = B62 + "+/"
LOWER_DIGITS = string.ascii_lowercase + string.digits
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def r(length: int, alphabet: str = B62) -> str:
    """``length`` random characters of ``alphabet``."""
    return "".join(_RNG.choice(alphabet) for _ in range(length))


def u() -> str:
    return str(uuid.UUID(int=_RNG.getrandbits(128), version=4))


def digits(length: int) -> str:
    return str(_RNG.randint(1, 9)) + r(length - 1, string.digits)


@dataclass(frozen=True)
class SecretCase:
    """A secret (what must never leave the runner) and the text it appears in (``{s}``)."""

    id: str
    secret: str
    context: str = "{s}"

    @property
    def text(self) -> str:
        return self.context.format(s=self.secret)

    @property
    def pieces(self) -> list[str]:
        """What may not appear either: the secret, and its first and last halves when it is
        long enough that a half is still worth something (a cut line, a partial mask)."""
        if len(self.secret) < 16:
            return [self.secret]
        half = len(self.secret) // 2
        return [self.secret, self.secret[:half], self.secret[half:]]


def _bare() -> list[SecretCase]:
    """Tokens with a documented prefix or structure: recognisable without any context."""
    cases = [
        ("github-classic-pat", "ghp_" + r(36)),
        ("github-oauth", "gho_" + r(36)),
        ("github-user-to-server", "ghu_" + r(36)),
        ("github-installation", "ghs_" + r(36)),
        ("github-refresh", "ghr_" + r(76)),
        ("github-fine-grained-pat", "github_pat_" + r(22) + "_" + r(59)),
        ("gitlab-pat", "glpat-" + r(20, B64URL)),
        ("gitlab-routable-pat", "glpat-" + r(27, B64URL) + ".01." + r(9, LOWER_DIGITS)),
        ("gitlab-deploy-token", "gldt-" + r(20, B64URL)),
        ("gitlab-runner-auth", "glrt-" + r(20, B64URL)),
        ("gitlab-cicd-job", "glcbt-" + r(2, HEX) + "_" + r(20, B64URL)),
        ("gitlab-trigger", "glptt-" + r(40, HEX)),
        ("gitlab-feed", "glft-" + r(20, B64URL)),
        ("gitlab-oauth-secret", "gloas-" + r(64, HEX)),
        ("gitlab-runner-registration", "GR1348941" + r(20, B64URL)),
        ("gitlab-incoming-mail", "glimt-" + r(25, B64URL)),
        ("gitlab-agent", "glagent-" + r(50, B64URL)),
        ("aws-access-key-id", "AKIA" + r(16, UPPER_DIGITS)),
        ("aws-temporary-key-id", "ASIA" + r(16, UPPER_DIGITS)),
        ("slack-bot", f"xoxb-{digits(12)}-{digits(13)}-{r(24)}"),
        ("slack-user", f"xoxp-{digits(12)}-{digits(12)}-{digits(13)}-{r(32, HEX)}"),
        ("slack-app-level", f"xapp-1-A{r(10, UPPER_DIGITS)}-{digits(13)}-{r(64, HEX)}"),
        ("slack-config", f"xoxe.xoxp-1-{r(150, B62)}"),
        (
            "slack-webhook",
            f"https://hooks.slack.com/services/T{r(8, UPPER_DIGITS)}/B{r(10, UPPER_DIGITS)}/{r(24)}",
        ),
        ("discord-webhook", f"https://discord.com/api/webhooks/{digits(18)}/{r(68, B64URL)}"),
        ("stripe-live-secret", "sk_live_" + r(99)),
        ("stripe-test-secret", "sk_test_" + r(99)),
        ("stripe-restricted", "rk_live_" + r(99)),
        ("stripe-webhook-secret", "whsec_" + r(32)),
        ("npm-access-token", "npm_" + r(36)),
        ("pypi-api-token", "pypi-AgEIcHlwaS5vcmc" + r(70, B64URL)),
        ("testpypi-api-token", "pypi-AgENdGVzdC5weXBpLm9yZw" + r(70, B64URL)),
        ("dockerhub-pat", "dckr_pat_" + r(27, B64URL)),
        ("google-api-key", "AIza" + r(35, B64URL)),
        ("google-oauth-client-secret", "GOCSPX-" + r(28, B64URL)),
        ("google-oauth-access-token", "ya29." + r(150, B64URL)),
        ("openai-project-key", "sk-proj-" + r(156, B64URL)),
        ("openai-legacy-key", "sk-" + r(20) + "T3BlbkFJ" + r(20)),
        ("openai-service-account", "sk-svcacct-" + r(156, B64URL)),
        ("anthropic-api-key", "sk-ant-api03-" + r(93, B64URL) + "AA"),
        ("anthropic-admin-key", "sk-ant-admin01-" + r(93, B64URL) + "AA"),
        ("huggingface-token", "hf_" + r(34, string.ascii_letters)),
        ("huggingface-org-token", "api_org_" + r(34, string.ascii_letters)),
        ("sendgrid", "SG." + r(22, B64URL) + "." + r(43, B64URL)),
        ("mailgun-private-key", "key-" + r(32, HEX)),
        ("twilio-api-key", "SK" + r(32, HEX)),
        ("sentry-user-token", "sntryu_" + r(64, HEX)),
        ("sentry-org-token", "sntrys_eyJpYXQiO" + r(150, B64) + "_" + r(43, B64)),
        ("shopify-access-token", "shpat_" + r(32, HEX)),
        ("shopify-custom-app", "shpca_" + r(32, HEX)),
        ("shopify-private-app", "shppa_" + r(32, HEX)),
        ("shopify-shared-secret", "shpss_" + r(32, HEX)),
        ("vault-service-token", "hvs." + r(90, B64URL)),
        ("vault-batch-token", "hvb." + r(138, B64URL)),
        ("digitalocean-pat", "dop_v1_" + r(64, HEX)),
        ("digitalocean-oauth", "doo_v1_" + r(64, HEX)),
        ("digitalocean-refresh", "dor_v1_" + r(64, HEX)),
        ("doppler-personal", "dp.pt." + r(43)),
        ("doppler-service", "dp.st.prd." + r(43)),
        ("terraform-cloud", r(14) + ".atlasv1." + r(67, B64URL)),
        ("heroku-api-key-v2", "HRKU-AA" + r(58, B64URL)),
        ("grafana-cloud-token", "glc_eyJvIjoi" + r(80, B64) + "In19"),
        ("grafana-service-account", "glsa_" + r(32) + "_" + r(8, HEX)),
        ("age-secret-key", "AGE-SECRET-KEY-1" + r(58, BECH32)),
        ("newrelic-user-key", "NRAK-" + r(27, UPPER_DIGITS)),
        ("newrelic-insert-key", "NRII-" + r(32, B64URL)),
        ("linear-api-key", "lin_api_" + r(40)),
        ("figma-pat", "figd_" + r(40, B64URL)),
        ("postman-api-key", "PMAK-" + r(24, HEX) + "-" + r(34, HEX)),
        ("pulumi-access-token", "pul-" + r(40, HEX)),
        ("planetscale-token", "pscale_tkn_" + r(43, B64URL)),
        ("planetscale-password", "pscale_pw_" + r(43, B64URL)),
        ("planetscale-oauth", "pscale_oauth_" + r(43, B64URL)),
        ("flyio-token", "FlyV1 fm2_" + r(200, B64)),
        ("supabase-pat", "sbp_" + r(40, HEX)),
        ("atlassian-api-token", "ATATT3xFfGF0" + r(170, B64URL) + "=" + r(8, "0123456789ABCDEF")),
        ("jfrog-api-key", "AKCp" + r(69)),
        ("jfrog-identity-token", "cmVmdGtuOjAxOjE3" + r(48)),
        ("azure-ad-client-secret", r(3) + "8Q~" + r(34, B64URL)),
        ("databricks-token", "dapi" + r(32, HEX)),
        ("dynatrace-token", "dt0c01." + r(24, UPPER_DIGITS) + "." + r(64, UPPER_DIGITS)),
        ("contentful-pat", "CFPAT-" + r(43, B64URL)),
        ("square-access-token", "EAAA" + r(60, B64URL)),
        ("square-oauth-secret", "sq0csp-" + r(43, B64URL)),
        ("braintree-access-token", f"access_token$production${r(16, LOWER_DIGITS)}${r(32, HEX)}"),
        ("adafruit-io-key", "aio_" + r(28)),
        ("bitbucket-app-password", "ATBB" + r(32)),
        ("cloudflare-origin-ca-key", "v1.0-" + r(24, HEX) + "-" + r(146, HEX)),
        ("sonarqube-user-token", "squ_" + r(40, HEX)),
        ("sonarqube-project-token", "sqp_" + r(40, HEX)),
        ("buildkite-agent-token", "bkua_" + r(40, HEX)),
        ("circleci-personal-token", "CCIPAT_" + r(22) + "_" + r(40, HEX)),
        ("telegram-bot-token", digits(10) + ":AA" + r(33, B64URL)),
        ("clojars-token", "CLOJARS_" + r(60, LOWER_DIGITS)),
        ("rubygems-api-key", "rubygems_" + r(48, HEX)),
        ("nuget-api-key", "oy2" + r(43, LOWER_DIGITS)),
        ("infracost-api-key", "ico-" + r(32)),
        ("prefect-api-key", "pnu_" + r(36)),
        ("readme-api-key", "rdme_" + r(70, LOWER_DIGITS)),
        ("scalingo-token", "tk-us-" + r(48, B64URL)),
        ("frameio-token", "fio-u-" + r(64, B64URL)),
        ("mapbox-secret-token", "sk.eyJ1Ijoi" + r(60, B64URL) + "." + r(22, B64URL)),
        ("shippo-live-token", "shippo_live_" + r(40, HEX)),
        ("duffel-live-token", "duffel_live_" + r(43, B64URL)),
        ("easypost-api-key", "EZAK" + r(54)),
        ("flutterwave-secret", "FLWSECK_TEST-" + r(32, HEX) + "-X"),
        ("onepassword-service-account", "ops_eyJzaWduSW5BZGRyZXNzIjoi" + r(250, B64)),
        ("alibaba-access-key-id", "LTAI" + r(20)),
        ("dropbox-short-lived", "sl." + r(135, B64URL)),
        ("harness-pat", f"pat.{r(22)}.{r(24, HEX)}.{r(20)}"),
        ("typeform-pat", "tfp_" + r(59, B64URL)),
        ("brevo-api-key", "xkeysib-" + r(64, HEX) + "-" + r(16)),
        ("perplexity-api-key", "pplx-" + r(48)),
        ("groq-api-key", "gsk_" + r(52)),
        ("replicate-api-token", "r8_" + r(37)),
        ("xai-api-key", "xai-" + r(80)),
        ("notion-integration-token", "ntn_" + digits(11) + r(35)),
        ("netlify-pat", "nfp_" + r(36)),
        ("tailscale-auth-key", "tskey-auth-" + r(17) + "-" + r(33)),
        (
            "jwt",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOi" + r(40, B64URL) + "." + r(43, B64URL),
        ),
    ]
    return [SecretCase(name, secret) for name, secret in cases]


def _named() -> list[SecretCase]:
    """Secrets without a recognisable shape, in the context that gives them away."""
    uuid_like = u()
    b64_key = r(86, B64) + "=="
    return [
        SecretCase("aws-secret-access-key", r(40, B64), "aws_secret_access_key = {s}"),
        SecretCase("aws-secret-env", r(40, B64), "AWS_SECRET_ACCESS_KEY={s}"),
        SecretCase("twilio-auth-token", r(32, HEX), "TWILIO_AUTH_TOKEN={s}"),
        SecretCase("datadog-api-key", r(32, HEX), "DD_API_KEY={s}"),
        SecretCase("heroku-api-key-uuid", uuid_like, "HEROKU_API_KEY={s}"),
        SecretCase("snyk-token", u(), "SNYK_TOKEN={s}"),
        SecretCase("codecov-token", u(), "CODECOV_TOKEN={s}"),
        SecretCase(
            "azure-devops-pat", r(52, "abcdefghijklmnopqrstuvwxyz234567"), "AZURE_DEVOPS_PAT={s}"
        ),
        SecretCase("cloudflare-api-token", r(40, B64URL), "CLOUDFLARE_API_TOKEN={s}"),
        SecretCase("vault-legacy-token", "s." + r(24), "VAULT_TOKEN={s}"),
        SecretCase("mailgun-env", "key-" + r(32, HEX), "MAILGUN_KEY={s}"),
        SecretCase("db-pwd", r(14, B62 + "!#%"), "DB_PWD={s}"),
        SecretCase("encryption-key", r(32, B64), "ENCRYPTION_KEY={s}"),
        SecretCase("db-password-quoted", "hunter2" + r(10), 'DB_PASSWORD="{s}"'),
        SecretCase("json-password", r(16, B62 + "!@#"), '{{"username": "ci", "password": "{s}"}}'),
        SecretCase("yaml-client-secret", r(40, B64URL), "client_secret: {s}"),
        SecretCase("x-api-key-header", r(40), "x-api-key: {s}"),
        SecretCase("authorization-bearer", r(48, B64URL), "Authorization: Bearer {s}"),
        SecretCase("authorization-basic", r(40, B64) + "=", "Authorization: Basic {s}"),
        SecretCase("authorization-token", r(40), "authorization: token {s}"),
        SecretCase("url-password", r(16), "https://deploy:{s}@git.example.com/app.git"),
        SecretCase("url-token-user", r(40), "https://{s}@github.com/octo/app.git"),
        SecretCase("postgres-dsn", r(18), "postgres://app:{s}@db.internal:5432/app"),
        SecretCase("mysql-dsn", r(18), "mysql://root:{s}@127.0.0.1:3306/test"),
        SecretCase("mongodb-srv", r(18), "mongodb+srv://ci:{s}@cluster0.abcde.mongodb.net/app"),
        SecretCase("redis-url", r(24), "redis://:{s}@cache:6379/0"),
        SecretCase("amqp-url", r(18), "amqp://guest:{s}@rabbitmq:5672/"),
        SecretCase("sentry-dsn", r(32, HEX), "https://{s}@o123456.ingest.sentry.io/4504"),
        SecretCase("jdbc-password", r(14) + "!", "jdbc:sqlserver://db:1433;user=sa;password={s};"),
        SecretCase(
            "adonet-password", r(14) + "#", "Server=db;Database=app;User Id=sa;Password={s};"
        ),
        SecretCase(
            "azure-storage-account-key",
            b64_key,
            "DefaultEndpointsProtocol=https;AccountName=ci;AccountKey={s};EndpointSuffix=core.windows.net",
        ),
        SecretCase(
            "azure-service-bus",
            r(43, B64) + "=",
            "Endpoint=sb://ci.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={s}",
        ),
        SecretCase(
            "azure-sas-signature",
            r(43, B62) + "%3D",
            "https://ci.blob.core.windows.net/logs/a.txt?sv=2022-11-02&se=2026-01-01&sp=r&sig={s}",
        ),
        SecretCase(
            "aws-presigned-signature",
            r(64, HEX),
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={s}",
        ),
        SecretCase("oauth-access-token-query", r(40), "GET /api/user?access_token={s}&page=2"),
        SecretCase("npmrc-auth-token", u(), "//registry.npmjs.org/:_authToken={s}"),
        SecretCase("npmrc-auth", r(40, B64) + "=", "_auth={s}"),
        SecretCase("docker-login-p", r(20), "docker login -u ci -p {s} ghcr.io"),
        SecretCase("podman-login-p", r(20), "podman login registry.example.com -u ci -p {s}"),
        SecretCase("mysql-p", r(16), "mysql -h db -uroot -p{s} app < schema.sql"),
        SecretCase("sshpass-p", r(16), "sshpass -p {s} ssh deploy@host"),
        SecretCase("curl-u", r(12), "curl -u admin:{s} https://nexus.example.com/upload"),
        SecretCase("curl-user", r(12), "curl --user ci:{s} https://example.com"),
        SecretCase("password-flag", r(16), "twine upload --password {s} dist/*"),
        SecretCase("token-flag", r(32), "gh auth login --token {s}"),
        SecretCase(
            "xml-password", r(16) + "!", "<server><id>nexus</id><password>{s}</password></server>"
        ),
        SecretCase("xml-api-key", r(32), '<add key="nuget" /><apikey>{s}</apikey>'),
        SecretCase("cookie-gitlab-session", r(32, HEX), "Cookie: _gitlab_session={s}"),
        SecretCase(
            "set-cookie-session", r(40, B64URL), "Set-Cookie: session={s}; Path=/; HttpOnly"
        ),
        SecretCase(
            "private-key-json",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + r(120, B64),
            '{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{s}\\n-----END PRIVATE KEY-----\\n"}}',
        ),
        SecretCase(
            "private-key-one-line",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" + r(100, B64),
            "-----BEGIN OPENSSH PRIVATE KEY----- {s} -----END OPENSSH PRIVATE KEY-----",
        ),
        SecretCase("okta-api-token", "00" + r(40, B64URL), "OKTA_API_TOKEN={s}"),
        SecretCase(
            "google-authorized-user-json",
            r(24, B64URL),
            '{{"type": "authorized_user", "client_secret": "{s}"}}',
        ),
        SecretCase("passphrase", r(20, string.ascii_lowercase + " "), 'GPG_PASSPHRASE="{s}"'),
        SecretCase(
            "teams-webhook",
            f"https://ci.webhook.office.com/webhookb2/{u()}@{u()}/IncomingWebhook/{r(32, HEX)}/{u()}",
            "TEAMS_WEBHOOK={s}",
        ),
        SecretCase(
            "slack-webhook-env",
            r(24),
            "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0123ABCD/B0123ABCD/{s}",
        ),
        SecretCase("k8s-secret-data", r(32, B64) + "=", "  password: {s}"),
    ]


CASES: list[SecretCase] = _bare() + _named()
"""Every case; ids are unique."""

ORDINARY_LINES = [
    "password: field required",
    "Error: token: not found in the request",
    "PWD=/home/runner/work/app/app",
    "sha256:" + "0f" * 32,
    "Digest: sha256:" + "ab12" * 16,
    "HEAD is now at 3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c Merge pull request #12",
    "request id 123e4567-e89b-42d3-a456-426614174000 failed",
    'npm ERR! code E401 Unable to authenticate, need: Basic realm="GitHub Package Registry"',
    "TokenError: the token has expired",
    "cache key: linux-node-modules-9f86d081884c7d659a2feaa0c55ad015",
    "Run actions/checkout@v4 with token: ***",
    "FAILED tests/test_auth.py::test_password_reset - assert 400 == 200",
    "git push -u origin feature/login",
    "docker run -u 1000:1000 app",
    "mkdir -p build/output && cd build",
    "ssh -p 2222 deploy@host",
    "  server-password: GITHUB_TOKEN",
    "password=<null>, interests=[movie, sports]",
    "Using API key from environment variable OPENAI_API_KEY",
]
"""Lines that carry no secret and must come out unchanged."""
