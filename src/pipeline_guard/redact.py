"""Mask secrets in every text that leaves the runner (comments, summaries, outputs, logs).

pipeline-guard quotes log lines back to people: in a PR comment, a job summary, an output, a
fix PR's description. A failed job's log is exactly where a token that was echoed by mistake
ends up, so every such text goes through :meth:`Redactor.redact` first. Two passes:

1. **Known values.** The secrets this run actually holds (the token inputs, ``secrets.*``
   passed as environment variables: see :func:`secrets_from_env`), plus the encodings in which
   they show up in logs (see :meth:`Redactor.add`), are replaced by :data:`MASK`.
2. **Known shapes.** Tokens with a documented format (GitHub, GitLab, AWS, Slack, npm, PyPI,
   ...), private key blocks, JWTs, credentials in URLs, ``Authorization`` headers and
   ``password=``/``token:`` style assignments are masked even when their value was never
   handed to us (a token from another system, one printed by a third-party tool).

The mask is GitHub's ``***``. Where a token format has a public, fixed prefix, the prefix is
kept (``ghp_***``, ``glpat-***``, ``AKIA***``, ``xoxb-***``): the prefix is not secret and
tells the reader *what* leaked, which is what they must rotate. Where a key name, header
name, URL scheme/host or PEM header tells the reader the same thing, it is kept and only the
value is masked (``password=***``, ``Authorization: Bearer ***``, ``https://user:***@host``,
``-----BEGIN RSA PRIVATE KEY-----\\n***\\n-----END RSA PRIVATE KEY-----``). A known value with
no such context becomes a bare ``***``.

Why RE2 and not :mod:`re`: both passes run over whole comments (up to 65 KB) and over logs we
print, and must stay linear in the text whatever it contains. The assignment pattern starts
with a run of name characters (``[\\w.-]*?(?:password|token|...)``): with the backtracking
:mod:`re`, a long unbroken run of word characters (a base64 blob) costs time quadratic in its
length. RE2 guarantees time linear in the text, and turns the alternation of every known secret
into one automaton, so many secrets cost about as much as one. ``google-re2`` is already a
dependency (the matcher uses it) and thus already loaded in a run; the regexes are compiled on
first use, so importing this module costs nothing. The text is encoded once to UTF-8 and
scanned as Latin-1 bytes, which is fast (no per-match offset translation in the wrapper) and
cannot fail: lone surrogates (from ``surrogateescape``-decoded logs) are carried through with
``surrogatepass``. Every pattern is ASCII, so matches always start and end on character
boundaries.

What is deliberately not masked (each would destroy useful text far more often than it would
hide a secret): values shorter than :data:`MIN_SECRET_LENGTH`; assignments whose value is
empty or an obvious placeholder (``***``, ``[MASKED]``, ``${{ secrets.X }}``, ``$TOKEN``,
``<token>``, ``true``...); git SHAs, UUIDs and other bare hex/base64 strings with no prefix or
key name (no way to tell a hash from a key without one); a bare ``ghp_`` or ``eyJ`` without a
body of the documented length and alphabet.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any

import re2

from pipeline_guard import secret_formats

__all__ = [
    "KNOWN_SECRET_NAMES",
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "is_secret_name",
    "mask_shapes",
    "secrets_from_env",
]

MASK = "***"
"""What replaces a secret: the same mask GitHub Actions prints, so readers recognise it."""

MIN_SECRET_LENGTH = 6
"""Known values (and each of their lines and encodings) shorter than this are not masked.

Masking ``1``, ``true`` or ``main`` wherever it occurs would wreck the text and tell an attacker
nothing they could not guess (GitLab, for one, refuses to mask variables shorter than 8). The
shape patterns have their own, documented, minimum lengths.
"""

_MASK_B = MASK.encode()
_ENCODING = "utf-8"
_ERRORS = "surrogatepass"


def _options() -> Any:
    """Latin-1 byte matching (see the module docstring), quiet errors, room for many secrets."""
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.log_errors = False
    options.max_mem = 64 << 20
    return options


# --------------------------------------------------------------------------------------------
# Pass 2: well-known shapes.
# --------------------------------------------------------------------------------------------

_NAME_WORDS = (
    r"password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|secret[_-]?key|private[_-]?key|signing[_-]?key|client[_-]?secret"
    r"|(?:encryption|master|account|auth|deploy|license|service|app|shared|storage)[_-]?key"
    r"|credentials?|auth|dsn|connection[_-]?string|conn[_-]?str|pat|webhook(?:[_-]?url)?"
)
"""A key whose name *ends* with one of these may hold a secret (``GITHUB_TOKEN``, ``db.password``,
``x-api-key``, ``ENCRYPTION_KEY``); :func:`is_secret_name` then decides on the whole name.
Ending, not containing: ``TokenError: ...``, ``tokens: 5`` and ``password_file`` are not
secrets. ``pwd`` counts only after another word (``DB_PWD``): ``PWD=/home/runner/work`` is
everywhere."""

_VALUE = r"""(?:"[^"\r\n]*"|'[^'\r\n]*'|[^\s'"]+)"""
"""A quoted value up to its quote, or an unquoted one up to whitespace or a quote. Stopping
late (not at ``&``, ``,`` or ``}``) errs on the side of masking too much (``?token=***`` hides
the query parameters after the token too) rather than leaking the end of a password that
holds one of those characters."""

_SCHEME = r"\b[A-Za-z][A-Za-z0-9+.-]{0,30}://"

_VENDOR_TOKENS: tuple[tuple[str, str], ...] = (
    # Tokens whose documented prefix makes them recognisable anywhere and that gitleaks' rules
    # only find next to a keyword (or not at all): (prefix regex, body regex). Found by the
    # hand-written formats in tests/security/secret_cases.py.
    (r"\bwhsec_", r"[A-Za-z0-9+/=]{24,}"),  # Stripe webhook signing secret
    (r"\bGOCSPX-", r"[A-Za-z0-9_-]{20,}"),  # Google OAuth client secret
    (r"\bya29\.", r"[A-Za-z0-9_-]{20,}"),  # Google OAuth access token
    (r"\bkey-", r"[0-9a-f]{32}\b"),  # Mailgun private API key
    (r"\bsntry[su]_", r"[A-Za-z0-9+/=_]{40,}"),  # Sentry org / user auth tokens
    (r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.", r"(?:[a-z0-9-]{1,40}\.)?[A-Za-z0-9]{40,}"),  # Doppler
    (r"\bNR(?:AK|II|JS|AA|IQ)-", r"[A-Za-z0-9_-]{20,}"),  # New Relic keys
    (r"\bfig[dou]_", r"[A-Za-z0-9_-]{30,}"),  # Figma tokens
    (r"\bsbp_", r"[a-f0-9]{40}"),  # Supabase personal access token
    (r"\bATATT3", r"[A-Za-z0-9_=-]{30,}"),  # Atlassian API token
    (r"\bATBB", r"[A-Za-z0-9]{32}"),  # Bitbucket app password
    (r"\bCFPAT-", r"[A-Za-z0-9_-]{40,}"),  # Contentful personal access token
    (r"\bsq0(?:csp|atp)-", r"[A-Za-z0-9_-]{22,}"),  # Square
    (r"\baccess_token\$production\$", r"[a-z0-9]{16}\$[a-f0-9]{32}"),  # Braintree
    (r"\baio_", r"[A-Za-z0-9]{28}"),  # Adafruit IO key
    (r"\bsq[upab]_", r"[a-f0-9]{40}"),  # SonarQube tokens
    (r"\bbk(?:ua|ct)_", r"[a-f0-9]{40}"),  # Buildkite tokens
    (r"\bCCI(?:PAT|PRJ)_", r"[A-Za-z0-9]{20,}_[a-f0-9]{40}"),  # CircleCI tokens
    (r"\b\d{8,10}:AA", r"[A-Za-z0-9_-]{33}\b"),  # Telegram bot token
    (r"\boy2", r"[a-z0-9]{43}\b"),  # NuGet API key
    (r"\bsk\.eyJ", r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),  # Mapbox secret token
    (r"\bsl\.", r"[A-Za-z0-9_-]{100,}"),  # Dropbox short-lived token
    (r"\btfp_", r"[A-Za-z0-9_-]{40,}"),  # Typeform personal token
    (r"\bgsk_", r"[A-Za-z0-9]{48,}"),  # Groq API key
    (r"\br8_", r"[A-Za-z0-9]{37}\b"),  # Replicate API token
    (r"\bxai-", r"[A-Za-z0-9]{70,}"),  # xAI API key
    (r"\bnf[pcou]_", r"[A-Za-z0-9]{36}"),  # Netlify tokens
    (
        r"\btskey-(?:auth|client|api|scim|webhook)-",
        r"[A-Za-z0-9]{8,}-[A-Za-z0-9]{16,}",
    ),  # Tailscale
    (r"webhook\.office\.com/webhookb2/", r"[A-Za-z0-9@/_-]{30,}"),  # Microsoft Teams webhook
    (r"\bhv[sbr]\.", r"[A-Za-z0-9_-]{24,}"),  # HashiCorp Vault tokens
    (r"\bhf_", r"[A-Za-z]{30,}\b"),  # Hugging Face user token
    (r"\bapi_org_", r"[A-Za-z]{30,}\b"),  # Hugging Face org token
    (r"\bsk_test_", r"[0-9A-Za-z]{20,}"),  # Stripe test key (still a key to an account)
    (r"\bdo[opr]_v1_", r"[a-f0-9]{64}"),  # DigitalOcean tokens
    (r"\bglsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),  # Grafana service account token
    (r"\bglc_", r"[A-Za-z0-9+/]{32,}={0,2}"),  # Grafana Cloud token
    (r"\bshp(?:at|ca|pa|ss)_", r"[a-fA-F0-9]{32}"),  # Shopify
    (r"\bAGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),  # age
    (r"\bHRKU-", r"[A-Za-z0-9_-]{40,}"),  # Heroku API key (2024 format)
)

# Each entry: (name, regex); _handler(name) says how its match is masked. Group names inside
# a regex are prefixed with its name (RE2 needs them unique across the combined pattern).
_PATTERNS: tuple[tuple[str, str], ...] = (
    # PEM private key headers; the body and footer that follow are found by _PEM_REST.
    ("pk", r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"),
    # Credentials in URLs: keep scheme, user and host, mask the password. The password may hold
    # an unencoded '@': the greedy run stops at the last '@' before the path.
    (
        "url",
        rf"(?P<url_head>{_SCHEME}[^\s:/?#@'\"<>]*:)(?P<url_pw>[^\s/?#'\"<>]+)@",
    ),
    # A token used as the user name (https://ghp_xxx@github.com, https://<token>@host).
    ("urlu", rf"(?P<urlu_head>{_SCHEME})(?P<urlu_user>[A-Za-z0-9._~%+-]{{20,}})@"),
    # Authorization headers: keep the header name and scheme.
    (
        "auth",
        r"(?P<auth_head>(?i:\b(?:proxy-)?authorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
        r"(?i:(?:bearer|basic|token|bot|digest|negotiate|ntlm|apikey|sso-key)[ \t]+)?)"
        r"(?P<auth_val>[^\s'\",]+)",
    ),
    # npm config: //registry.npmjs.org/:_authToken=..., _auth=..., _password=...
    (
        "npmrc",
        r"(?P<npmrc_head>:?_(?:authToken|auth|password)[ \t]*=[ \t]*)(?P<npmrc_val>" + _VALUE + ")",
    ),
    # GitHub: ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (installation,
    # GITHUB_TOKEN), ghr_ (refresh): 36 base62 characters today; longer accepted.
    ("gh", r"(?P<gh_p>gh[pousr]_)[A-Za-z0-9]{30,}"),
    # Fine-grained PAT: github_pat_ + 22 + '_' + 59 today.
    ("ghpat", r"(?P<ghpat_p>github_pat_)[A-Za-z0-9_]{40,}"),
    # GitLab's documented prefixes (docs.gitlab.com "Token prefixes"): personal/project/group
    # access (glpat-), OAuth app secret (gloas-), deploy (gldt-), runner auth (glrt-, glrtr-),
    # CI/CD job (glcbt-), trigger (glptt-), feed (glft-), incoming mail (glimt-), agent
    # (glagent-), workspace (glwt-), SCIM (glsoat-), feature flags client (glffct-). Routable
    # tokens carry '.'-separated parts (glpat-<base64>.01.xxxxxxxxx).
    (
        "gl",
        r"(?P<gl_p>gl(?:pat|oas|dt|rtr|rt|cbt|ptt|ft|imt|agent|wt|soat|ffct)-)"
        r"[0-9A-Za-z_-]{20,}(?:\.[0-9A-Za-z_-]+)*",
    ),
    # GitLab runner registration token (deprecated flow).
    ("glreg", r"(?P<glreg_p>GR1348941)[0-9A-Za-z_-]{20,}"),
    # AWS access key ids (AKIA long-term, ASIA temporary, ...): 4 + 16 upper/digits.
    ("aws", r"\b(?P<aws_p>AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
    # Slack tokens (bot, user, app-level, config, refresh, legacy) and webhook URLs.
    ("slack", r"(?P<slack_p>xox[abposer]-|xapp-)[0-9A-Za-z-]{10,}"),
    (
        "slackhook",
        r"(?P<slackhook_p>hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_+-]{8,}",
    ),
    ("discord", r"(?P<discord_p>discord(?:app)?\.com/api/webhooks/\d+/)[A-Za-z0-9_-]{20,}"),
    # npm access tokens: npm_ + 36 base62.
    ("npm", r"\b(?P<npm_p>npm_)[A-Za-z0-9]{36,}"),
    # PyPI API tokens: macaroons, base64 of a binary that always starts with "AgE".
    ("pypi", r"(?P<pypi_p>pypi-)Ag[A-Za-z0-9_-]{50,}"),
    # A few other unmistakable prefixes that show up in CI: Docker Hub PATs, Google API keys,
    # Stripe live keys, OpenAI/Anthropic keys.
    ("dckr", r"(?P<dckr_p>dckr_pat_)[A-Za-z0-9_-]{20,}"),
    ("gapi", r"\b(?P<gapi_p>AIza)[0-9A-Za-z_-]{35}"),
    ("stripe", r"\b(?P<stripe_p>(?:sk|rk)_live_)[0-9A-Za-z]{20,}"),
    ("llm", r"\b(?P<llm_p>sk-(?:proj|svcacct|admin|ant-[a-z]+\d*)-)[A-Za-z0-9_-]{20,}"),
    # JWTs: base64url of '{"' starts with eyJ, for the header and for the payload.
    ("jwt", r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    # --password value, --token value (with '=' the assignment pattern below applies).
    (
        "flag",
        r"(?P<flag_head>--[A-Za-z0-9-]*?(?i:password|passwd|token|secret|api-?key|cookie)[ \t]+)"
        r"(?P<flag_val>\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s'\"-][^\s'\"]*)",
    ),
    # Connection strings: AccountKey=...;, SharedAccessKey=..., ;Password=...; (ADO.NET, Azure).
    (
        "cs",
        r"(?P<cs_head>(?:\b(?i:AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecret)"
        r"|;[ \t]*(?i:password|pwd|user password))[ \t]*=[ \t]*)(?P<cs_val>[^;'\"\s]+)",
    ),
    # key = value, key: value, "key": "value", key := value, key => value.
    (
        "kv",
        rf"(?P<kv_head>(?P<kv_name>[\w.-]*?(?i:{_NAME_WORDS})|[\w.-]*[\w][_.-](?i:pwd))"
        rf"[\"']?[ \t]*(?::=|=>|[:=])[ \t]*)(?P<kv_val>{_VALUE})",
    ),
    # Signed URLs and query strings: ?sig=..., &X-Amz-Signature=..., &access_token=...
    (
        "query",
        r"(?P<query_head>[?&](?i:sig|signature|x-amz-signature|x-amz-credential"
        r"|x-amz-security-token|x-goog-signature|x-goog-credential|access_token|refresh_token"
        r"|id_token|token|api_key|apikey|password|passwd|secret|client_secret)=)"
        r"(?P<query_val>[^&\s'\"#<>]+)",
    ),
)

_MORE_PATTERNS: tuple[tuple[str, str], ...] = (
    # More documented prefixes (see _VENDOR_TOKENS); the handler keeps the prefix.
    ("vendor", "|".join(f"(?:{prefix}{body})" for prefix, body in _VENDOR_TOKENS)),
    # <password>value</password>, <apiKey>value</apiKey> (Maven settings, NuGet, SOAP).
    (
        "xml",
        rf"(?P<xml_head><(?P<xml_name>[\w:.-]*?(?i:{_NAME_WORDS}))>)(?P<xml_val>[^<\r\n]+)",
    ),
    # Cookie: a=b; c=d / Set-Cookie: session=... (the whole value: every cookie may be a session).
    (
        "cookie",
        r"(?P<cookie_head>\b(?i:set-cookie|cookie)[\"']?[ \t]*[:=][ \t]*[\"']?)"
        r"(?P<cookie_val>[^\s'\";][^'\"\r\n]*)",
    ),
    # Passwords passed as -p: docker/podman/helm... login -p X, sshpass -p X, mysql -pX.
    (
        "dashp",
        r"(?P<dashp_head>(?:\b(?:docker|podman|nerdctl|buildah|skopeo|helm(?: registry)?|oras"
        r"|crane|regctl|cf|az acr|notation)[ \t]+login\b[^\r\n]{0,200}?[ \t]-p[ \t]*"
        r"|\bsshpass\b(?:[^\r\n]{0,100}?[ \t])?-p[ \t]*"
        r"|\b(?:mysql(?:dump|admin|import|check|slap|sh)?|mariadb(?:-dump)?)\b[^\r\n]{0,200}?"
        r"[ \t]-p))(?P<dashp_val>\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s'\"-][^\s'\"]*)",
    ),
    # curl -u user:password, --user user:password, --proxy-user, wget --password handled above.
    (
        "userpw",
        r"(?P<userpw_head>(?:[ \t]-u|--user|--proxy-user)[ \t=]+[\"']?[^\s:'\"]{1,100}:)"
        r"(?P<userpw_val>[^\s'\"]+)",
    ),
)
"""Shapes of the second regex: a separate pass so that each regex keeps few groups (a match's
cost grows with the groups of the regex, and a text full of PEM headers has many matches).
None of these can start where a pattern of the first pass starts."""

_PLACEHOLDER = (
    rb"|[*xX.#-]+"
    rb"|\[(?i:MASKED|REDACTED|HIDDEN|FILTERED|SECRET|SECURE)\]"
    rb"|<[^<>]*>"
    rb"|(?i:redacted|masked|hidden|null|none|nil|undefined|true|false)"
    rb"|\$\{\{.*|\$\{[^}]*\}?|\$\([^)]*\)?|\$[A-Z_][A-Z0-9_]*|%[A-Z_][A-Z0-9_]*%|\{\{.*\}\}"
    rb"|[A-Za-z0-9_.-]{0,16}\*{3,}[)\]},;]*"
    rb"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
    rb"|<(?i:null|none|nil|empty|redacted|masked|hidden|secret)>[,;)\]}].*"
)
"""Values that are not secrets (the first alternative is the empty value): masked already
(``***``, ``ghp_***``, ``[MASKED]``, Travis' ``[secure]``), templates and variable references
(``${{ secrets.X }}``, ``$TOKEN``, ``${TOKEN}``, ``%TOKEN%``, ``<your-token>``), names of
variables (``server-password: GITHUB_TOKEN`` in ``actions/setup-java``'s log: an upper-case
name with an underscore), booleans and nulls (also ``<null>,`` in the middle of a
``toString``). A bare ``$name`` counts as a reference only in upper case (CI variables are), so
a password such as ``$ecret99`` is still masked."""


@cache
def _placeholder_regex() -> Any:
    """Compiled on first use, like every regex here (import must stay cheap)."""
    return re2.compile(_PLACEHOLDER, _options())


def _is_placeholder(value: bytes) -> bool:
    """Whether an assignment's value (quotes stripped) is not worth masking. Escaped quotes
    alone are the empty value (``password=\\"\\"`` in an ``echo``), and so is a value that
    starts with ``&`` (``?token=&branch=main``: the next query parameter)."""
    core = value.strip().strip(b"\\\"'")
    return core[:1] == b"&" or _placeholder_regex().fullmatch(core) is not None


def _unquote(value: bytes) -> tuple[bytes, bytes, bytes]:
    """Split a matched value into (opening quote, inner text, closing quote)."""
    if len(value) >= 2 and value[:1] in (b'"', b"'") and value[-1:] == value[:1]:
        return value[:1], value[1:-1], value[-1:]
    return b"", value, b""


class _Groups:
    """The named groups of one match of the combined pattern, as bytes (``b""`` if unset)."""

    __slots__ = ("_data", "_index", "_match")

    def __init__(self, data: bytes, index: Mapping[str, int], match: Any) -> None:
        self._data = data
        self._index = index
        self._match = match

    def __getitem__(self, name: str) -> bytes:
        start, end = self._match.span(self._index[name])
        return b"" if start == -1 else self._data[start:end]


_Handler = Callable[[_Groups, bytes], bytes]
"""Turns one match (its groups and its whole text) into the text that replaces it."""


def _mask_value(head: bytes, value: bytes, whole: bytes) -> bytes:
    """``head`` + the value masked (its quotes kept), or ``whole`` unchanged for a placeholder."""
    left, inner, right = _unquote(value)
    if _is_placeholder(inner) or (not left and _code_regex().fullmatch(inner) is not None):
        return whole
    return head + left + _masked_value(inner) + right


_CODE = (
    rb"(?:null|nil|None|none|undefined|true|false|!?[01]|(?:this|self)\.[\w$.]+"
    rb"|[A-Za-z_$][\w$]?|[A-Za-z_$][\w$.]*(?:\[[^\]]*\]|\([^)]*\))+)(?:[,;)}\]].*)?"
)
"""An unquoted value that is code, not a secret (minified JavaScript and test output quote
code: ``this.token=null,this.x=...``, ``e.token=i}else``, ``token = ref1[j];``): a literal, a
``this.`` chain, a one- or two-letter variable or a call or index, then punctuation."""


@cache
def _code_regex() -> Any:
    return re2.compile(_CODE, _options())


def _mask_assignment(groups: _Groups, whole: bytes) -> bytes:
    """``name = value``: masked when :func:`is_secret_name` says the name holds a secret.

    An unquoted value after a colon is prose as often as a setting (``password: field
    required``, ``token: not found``), so there the value must also look like a credential
    (:func:`_value_looks_secret`); after ``=`` or in quotes, any value that is not a
    placeholder is masked."""
    if not is_secret_name(groups["kv_name"].decode("latin-1")):
        return whole
    head, value = groups["kv_head"], groups["kv_val"]
    if value[:1] == b":":  # ``Forgot password::requesting``, a scope, not a value
        return whole
    colon = head.rstrip(b" \t").endswith(b":")
    quoted = value[:1] in (b'"', b"'")
    if colon and not quoted and not _value_looks_secret(value.decode(_ENCODING, "replace")):
        return whole
    return _mask_value(head, value, whole)


def _masked_value(value: bytes) -> bytes:
    """:data:`MASK`, or ``<prefix>***`` when the whole value is a token with a known prefix
    (``GITHUB_TOKEN=ghs_***`` says more than ``GITHUB_TOKEN=***``)."""
    inner = _pattern_pass().apply(value)
    if inner != value and _placeholder_regex().fullmatch(inner) is not None:
        return inner
    return _MASK_B


_PEM_SEP = r"(?:[ \t]|\r?\n|\\r|\\n)+(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z[ \t]+)?"
_PEM_REST = (
    rf"(?:{_PEM_SEP}(?:[A-Za-z0-9+/=]{{16,}}"
    r"|(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset):[^\r\n]*))*"
    rf"(?:{_PEM_SEP}[A-Za-z0-9+/=]+){{0,2}}"
    rf"(?:{_PEM_SEP}-----END[ A-Z0-9]{{0,40}}PRIVATE KEY(?: BLOCK)?-----)?"
).encode()
"""What follows a PEM header: body lines, then the footer if the text was not cut off.

Body lines are base64 runs of 16+ characters (PEM and OpenSSH lines are 64-70 long), the
RFC 1421/4880 headers (``Proc-Type:``, ``DEK-Info:``, ``Version:``...), then up to two
shorter runs (the last line, and a PGP checksum line). Lines may be separated by real line
breaks, by spaces (a key pasted into one line) or by escaped ``\\n`` (a key inside a JSON
string), and prefixed by GitHub's log timestamps. Matching this *shape* rather than "everything
up to the END line" means a key cut off by a truncated log or comment is still masked, and
masks at most two short words after it; and it stays linear: a lazy ``.*?END`` would rescan
the rest of the text for each of many headers without a footer. Matched anchored and without
captures, so RE2 answers from its DFA.
"""


@cache
def _pem_rest() -> Any:
    return re2.compile(_PEM_REST, _options())


def _private_key(data: bytes, start: int, end: int) -> tuple[bytes, int]:
    """Mask the key body after the header at ``data[start:end]``; keep header, footer and the
    whitespace around the body. Returns the replacement and where the key ends."""
    rest = _pem_rest().match(data, end)
    rest_end = rest.end() if rest is not None else end
    footer_at = data.rfind(b"-----END", end, rest_end)
    body_end = footer_at if footer_at != -1 else rest_end
    body = data[end:body_end]
    core = body.strip(b" \t\r\n")
    if not core:
        return data[start:rest_end], rest_end
    lead = body.index(core)
    masked = data[start:end] + body[:lead] + _MASK_B + body[lead + len(core) :]
    return masked + data[body_end:rest_end], rest_end


def _mask_xml(groups: _Groups, whole: bytes) -> bytes:
    """``<password>value</password>``: the tag's local name must be a secret name."""
    if not is_secret_name(groups["xml_name"].decode("latin-1").rpartition(":")[2]):
        return whole
    return _mask_value(groups["xml_head"], groups["xml_val"], whole)


def _mask_user_password(groups: _Groups, whole: bytes) -> bytes:
    """``-u user:password``; ``-u 1000:1000`` is a uid and gid (``docker run``)."""
    if groups["userpw_val"].isdigit():
        return whole
    return _mask_value(groups["userpw_head"], groups["userpw_val"], whole)


def _mask_url_password(groups: _Groups, whole: bytes) -> bytes:
    if _is_placeholder(groups["url_pw"]):
        return whole
    return groups["url_head"] + _MASK_B + b"@"


@cache
def _vendor_prefix() -> Any:
    """The documented prefixes alone, to find which one a vendor token starts with."""
    source = "|".join(f"(?:{prefix})" for prefix, _ in _VENDOR_TOKENS).replace("\\b", "")
    return re2.compile(source)


def _mask_vendor_token(groups: _Groups, whole: bytes) -> bytes:
    """Keep the documented prefix (what leaked, to be rotated), mask the rest."""
    prefix = _vendor_prefix().match(whole.decode("latin-1"))
    kept = prefix.group().encode("latin-1") if prefix is not None else b""
    if kept[:1].isdigit():  # a Telegram bot id: part of the token
        kept = b""
    return kept + _MASK_B


_SPECIAL_HANDLERS: dict[str, _Handler] = {
    "vendor": _mask_vendor_token,
    "jwt": lambda groups, whole: _MASK_B,
    "urlu": lambda groups, whole: groups["urlu_head"] + _MASK_B + b"@",
    "url": _mask_url_password,
    "kv": _mask_assignment,
    "xml": _mask_xml,
    "userpw": _mask_user_password,
    "cookie": lambda groups, whole: (
        _mask_value(groups["cookie_head"], groups["cookie_val"], whole)
        if b"=" in groups["cookie_val"]
        else whole
    ),
}
_VALUE_PATTERNS = ("auth", "npmrc", "flag", "cs", "query", "dashp")


def _handler(name: str) -> _Handler:
    """How the pattern called ``name`` in :data:`_PATTERNS` masks its match."""
    if name in _SPECIAL_HANDLERS:
        return _SPECIAL_HANDLERS[name]
    if name in _VALUE_PATTERNS:
        head, value = f"{name}_head", f"{name}_val"
        return lambda groups, whole: _mask_value(groups[head], groups[value], whole)
    prefix = f"{name}_p"
    return lambda groups, whole: groups[prefix] + _MASK_B


_CHECK_ORDER = ("kv", "url", "query", "auth", "cookie", "flag", "npmrc", "urlu", "jwt", "gh", "gl")
"""Alternatives to test first when looking up which one matched (the most frequent in logs):
one call per alternative tested, and the lookup dominates the cost of a match."""


class _PatternPass:
    """One combined regex of shapes (:data:`_PATTERNS` or :data:`_MORE_PATTERNS`) and, per
    alternative, its handler."""

    def __init__(self, patterns: tuple[tuple[str, str], ...]) -> None:
        source = "|".join(f"(?P<{name}>{pattern})" for name, pattern in patterns)
        self.regex: Any = re2.compile(source.encode(), _options())
        self.index: dict[str, int] = {
            (name.decode() if isinstance(name, bytes) else name): index
            for name, index in self.regex.groupindex.items()
        }
        names = [name for name, _ in patterns]
        names.sort(key=lambda name: _CHECK_ORDER.index(name) if name in _CHECK_ORDER else 99)
        self.pem_index = self.index.get("pk", -1)
        self.alternatives = [(self.index[name], _handler(name)) for name in names if name != "pk"]

    def apply(self, data: bytes) -> bytes:
        """``data`` with every match replaced by its handler's output (``data`` itself if no
        match changed anything)."""
        pieces: list[bytes] = []
        last = 0
        pos = 0
        while pos <= len(data):
            match = self.regex.search(data, pos)
            if match is None:
                break
            start, end = match.span()
            whole = data[start:end]
            replacement = whole
            if self.pem_index != -1 and match.start(self.pem_index) != -1:
                replacement, end = _private_key(data, start, end)
                whole = data[start:end]
            else:
                for group_index, handler in self.alternatives:
                    if match.start(group_index) != -1:
                        replacement = handler(_Groups(data, self.index, match), whole)
                        break
            if replacement != whole:
                pieces += (data[last:start], replacement)
                last = end
            pos = end if end > start else start + 1
        if not pieces:
            return data
        pieces.append(data[last:])
        return b"".join(pieces)


class _ShapePasses:
    """The two shape regexes, applied one after the other."""

    def __init__(self) -> None:
        self.passes = (_PatternPass(_PATTERNS), _PatternPass(_MORE_PATTERNS))

    def apply(self, data: bytes) -> bytes:
        for shape_pass in self.passes:
            data = shape_pass.apply(data)
        return data


@cache
def _pattern_pass() -> _ShapePasses:
    """Compiled on first use: importing this module must not cost a regex compilation."""
    return _ShapePasses()


# --------------------------------------------------------------------------------------------
# Pass 3: gitleaks' secret formats (see secret_formats.py).
# --------------------------------------------------------------------------------------------


def _entropy(data: bytes) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it for its threshold."""
    length = len(data)
    counts: dict[int, int] = {}
    for byte in data:
        counts[byte] = counts.get(byte, 0) + 1
    return -sum(n / length * math.log2(n / length) for n in counts.values())


class _Format:
    """One gitleaks rule, compiled on first use (most never run: their keyword is absent)."""

    __slots__ = ("_regex", "allow", "entropy", "group", "id", "source", "stopwords")

    def __init__(self, entry: secret_formats.Format) -> None:
        self.id, self.source, self.group, self.entropy, _, allow, stopwords = entry
        self.allow = tuple(re2.compile(p.encode(), _options()) for p in allow) if allow else ()
        self.stopwords = tuple(word.encode() for word in stopwords)
        self._regex: Any = None

    @property
    def regex(self) -> Any:
        if self._regex is None:
            self._regex = re2.compile(self.source.encode(), _options())
        return self._regex

    def secret_span(self, match: Any) -> tuple[int, int]:
        """Where the secret is in a match: gitleaks' ``secretGroup``, else the first non-empty
        group, else the whole match."""
        if self.group:
            start, end = match.span(self.group)
            return start, end
        for index in range(1, (match.re.groups or 0) + 1):
            start, end = match.span(index)
            if end > start:
                return start, end
        start, end = match.span()
        return start, end

    def allows(self, secret: bytes) -> bool:
        """Whether ``secret`` is not one after all: too little entropy, or on an allowlist."""
        if self.entropy and _entropy(secret) <= self.entropy:
            return True
        lower = secret.lower()
        if any(word in lower for word in self.stopwords):
            return True
        return any(regex.search(secret) for regex in self.allow)


_KEYWORD_HITS_PER_LINE = 32
"""Keyword hits looked at one by one on a line; beyond, every keyword is tested on the line."""


_KEYWORD_LINES = 1024
"""Lines with keywords looked at one by one (at least; see :data:`_BYTES_PER_KEYWORD_LINE`);
beyond (a text dense with ``key``, ``token``, ``api``), the formats whose keyword occurs
anywhere run once over the whole text: the Python work per keyword hit would dominate."""

_BYTES_PER_KEYWORD_LINE = 200
"""Real logs have about one keyword line per 500 bytes; one per 200 is a text made of them."""

_LINES_PER_FORMAT = 32
"""A format triggered on more lines than this runs once over the whole text instead."""


class _FormatsPass:
    """gitleaks' formats with its keyword prefilter: a rule runs only on text that contains
    one of its keywords (most texts contain none), as gitleaks does."""

    def __init__(self) -> None:
        self.formats = [_Format(entry) for entry in secret_formats.FORMATS]
        by_keyword: dict[bytes, list[int]] = {}
        self.always: list[int] = []
        for index, entry in enumerate(secret_formats.FORMATS):
            for keyword in entry[4]:
                by_keyword.setdefault(keyword.encode(), []).append(index)
            if not entry[4]:
                self.always.append(index)
        self.by_keyword = by_keyword
        longest_first = sorted(by_keyword, key=lambda keyword: (-len(keyword), keyword))
        alternatives = b"|".join(_escape(keyword) for keyword in longest_first)
        self.keywords: Any = re2.compile(b"(?i:" + alternatives + b")", _options())
        allow = secret_formats.ALLOW
        self.allow = [re2.compile(pattern.encode(), _options()) for pattern in allow]
        self.stopwords = tuple(word.encode() for word in secret_formats.STOPWORDS)

    def apply(self, data: bytes) -> bytes:
        """``data`` with every secret a triggered format finds replaced by :data:`MASK`.

        A format runs only on the lines that hold one of its keywords (a secret and its
        keyword share a line; multi-line private keys are the shape pass's job), so a long
        text with a common keyword (``key``, ``api``) costs a few lines per format, not the
        whole text per format."""
        whole = {(0, len(data))}
        lines: dict[int, set[tuple[int, int]]] = {}
        dense = max(_KEYWORD_LINES, len(data) // _BYTES_PER_KEYWORD_LINE)
        for count, (line, keywords) in enumerate(self._keyword_lines(data)):
            if count >= dense:  # keywords everywhere: each format once, on the whole text
                lower = data.lower()
                present = [keyword for keyword in self.by_keyword if keyword in lower]
                lines = {index: whole for keyword in present for index in self.by_keyword[keyword]}
                break
            for keyword in keywords:
                for index in self.by_keyword[keyword]:
                    lines.setdefault(index, set()).add(line)
        for index in self.always:
            lines[index] = whole
        found: list[tuple[int, int]] = []
        for index, spans in lines.items():
            fmt = self.formats[index]
            # Many lines: one scan of the text is cheaper than one call per line.
            for start, end in whole if len(spans) > _LINES_PER_FORMAT else spans:
                found += self._secrets(fmt, data, start, end)
        return _replace_spans(data, found)

    def _keyword_lines(self, data: bytes) -> Iterator[tuple[tuple[int, int], set[bytes]]]:
        """Each line that holds keywords, with its keywords. A line with very many keyword
        hits (an attacker's, or a minified file's) is checked for every keyword at once, so
        the Python work per line stays bounded."""
        pos = 0
        while True:
            match = self.keywords.search(data, pos)
            if match is None:
                return
            start = data.rfind(b"\n", 0, match.start()) + 1
            end = data.find(b"\n", match.start())
            end = len(data) if end == -1 else end
            found = {match.group().lower()}
            hits = 1
            while hits < _KEYWORD_HITS_PER_LINE:
                match = self.keywords.search(data, match.end(), end)
                if match is None:
                    break
                found.add(match.group().lower())
                hits += 1
            if hits >= _KEYWORD_HITS_PER_LINE:
                lower = data[start:end].lower()
                found = {keyword for keyword in self.by_keyword if keyword in lower}
            yield (start, end), found
            pos = end + 1

    def _secrets(self, fmt: _Format, data: bytes, pos: int, endpos: int) -> list[tuple[int, int]]:
        found = []
        for match in fmt.regex.finditer(data, pos, endpos):
            start, end = fmt.secret_span(match)
            secret = data[start:end]
            if end <= start or _MASK_B in secret or fmt.allows(secret) or self._allows(secret):
                continue
            found.append((start, end))
        return found

    def _allows(self, secret: bytes) -> bool:
        lower = secret.lower()
        if any(word in lower for word in self.stopwords):
            return True
        return any(regex.search(secret) for regex in self.allow)


@cache
def _formats_pass() -> _FormatsPass:
    """Built on first use, like the other passes."""
    return _FormatsPass()


def mask_shapes(text: str) -> str:
    """``text`` with every well-known secret *shape* masked (no known values): for code that
    must cut a line before the run's :class:`Redactor` sees it (the cut must not split a
    secret in two, leaving half of it unrecognisable)."""
    if not text:
        return text
    data = text.encode(_ENCODING, _ERRORS)
    masked = _formats_pass().apply(_pattern_pass().apply(data))
    return text if masked is data else masked.decode(_ENCODING, _ERRORS)


# --------------------------------------------------------------------------------------------
# Pass 1: known values.
# --------------------------------------------------------------------------------------------

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _percent_encoded(raw: bytes, plus: bool) -> bytes:
    """RFC 3986 percent-encoding (``urllib.parse.quote(safe="")``; ``quote_plus`` if ``plus``)."""
    out = bytearray()
    for byte in raw:
        if byte in _UNRESERVED:
            out.append(byte)
        elif plus and byte == 0x20:
            out.append(0x2B)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def _json_escaped(raw: bytes) -> bytes:
    """The value as it appears inside a JSON/YAML double-quoted string."""
    return (
        raw.replace(b"\\", b"\\\\")
        .replace(b'"', b'\\"')
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )


def _xml_escaped(raw: bytes) -> bytes:
    """The value as it appears in XML/HTML text or attributes (JUnit reports, HTML pages)."""
    return (
        raw.replace(b"&", b"&amp;")
        .replace(b"<", b"&lt;")
        .replace(b">", b"&gt;")
        .replace(b'"', b"&quot;")
        .replace(b"'", b"&apos;")
    )


def _base64_cores(raw: bytes) -> list[bytes]:
    """The base64 characters that encode ``raw`` alone, at each of the three byte alignments.

    A secret is often base64-encoded together with something else (``user:token`` in a Basic
    header, a ``.dockerconfigjson``, a kubeconfig), so it can start at any offset modulo 3 of
    the encoded data. For each offset, keep only the characters whose six bits all come from
    the secret: those are the same whatever surrounds it. (GitHub's runner registers the same
    three shifts: ``ValueEncoders.Base64StringEscape``, ``...Shift1``, ``...Shift2``.)
    """
    cores = []
    for shift in range(3):
        encoded = binascii.b2a_base64(b"\0" * shift + raw, newline=False)
        core = encoded[-(-8 * shift // 6) : (8 * (shift + len(raw))) // 6]
        cores.append(core)
        cores.append(core.translate(_URLSAFE))
    return cores


def _variants(secret: str) -> set[bytes]:
    """Every form of ``secret`` worth masking, each at least :data:`MIN_SECRET_LENGTH` long.

    - the value itself, with surrounding whitespace removed (a key file read into a variable
      keeps its trailing newline; the log shows the value without it);
    - each line of a multi-line value on its own (a PEM key or JSON credential printed line by
      line, or with a timestamp in front of each line);
    - URL-encoded (``%40`` for ``@``, and ``+`` for space), as in URLs and form bodies;
    - JSON-escaped (``\\n``, ``\\"``), as in JSON logs and API payloads, and XML-escaped
      (``&amp;``), as in JUnit reports;
    - base64 at every alignment (see :func:`_base64_cores`), as in Basic auth headers and
      Kubernetes/Docker config.

    Values made only of ``*`` are ignored: they are the mask itself.
    """
    value = secret.strip()
    if len(value) < MIN_SECRET_LENGTH or not value.strip("*"):
        return set()
    raw = value.encode(_ENCODING, _ERRORS)
    forms = {raw, _json_escaped(raw), _xml_escaped(raw), _percent_encoded(raw, plus=False)}
    if b" " in raw:
        forms.add(_percent_encoded(raw, plus=True))
    for raw_line in value.splitlines():
        line = raw_line.strip()
        if len(line) >= MIN_SECRET_LENGTH and line.strip("*"):
            forms.add(line.encode(_ENCODING, _ERRORS))
    forms.update(_base64_cores(raw))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _escape(literal: bytes) -> bytes:
    """``literal`` as an RE2 Latin-1 pattern: ASCII letters and digits as is, any other byte
    as ``\\xHH`` (no metacharacter can slip through, whatever the value holds)."""
    return b"".join(bytes((byte,)) if byte in _ALNUM else b"\\x%02x" % byte for byte in literal)


_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

_CHUNK = 2000
"""Literals per regex: a handful of regexes for thousands of values stays well inside RE2's
memory budget; a run has a few dozen secrets at most, so normally there is exactly one."""


def _literal_regexes(literals: Iterable[bytes]) -> list[Any]:
    """Alternations of the literals, longest first, so the longest form at a position wins."""
    ordered = sorted(literals, key=lambda item: (-len(item), item))
    return [
        re2.compile(b"|".join(_escape(item) for item in ordered[i : i + _CHUNK]), _options())
        for i in range(0, len(ordered), _CHUNK)
    ]


def _mask_literals(data: bytes, regexes: list[Any]) -> bytes:
    """Replace every match of the literal regexes (see :func:`_replace_spans`)."""
    spans: list[tuple[int, int]] = []
    for regex in regexes:
        spans.extend(match.span() for match in regex.finditer(data))
    return _replace_spans(data, spans)


def _replace_spans(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """``data`` with each span replaced by :data:`MASK`; touching or overlapping spans become
    one mask (so two adjacent secrets give ``***``, not ``******``, which would not be stable).
    ``data`` itself when there is no span."""
    if not spans:
        return data
    spans.sort()
    pieces: list[bytes] = []
    last = 0
    current_start, current_end = spans[0]
    for start, end in spans[1:]:
        if start <= current_end:
            current_end = max(current_end, end)
            continue
        pieces += (data[last:current_start], _MASK_B)
        last = current_end
        current_start, current_end = start, end
    pieces += (data[last:current_start], _MASK_B, data[current_end:])
    return b"".join(pieces)


_PEM_HEADER = re.compile(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY_LINE = re.compile(
    r"\s*(?:[A-Za-z0-9+/=]{2,}|(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset):.*)\s*"
)


def _pem_body_items(texts: list[str | None]) -> set[int]:
    """Indexes of the items that continue a private key opened by an earlier item (and not
    closed on it): base64 and PEM header lines, up to the footer or the first other line."""
    inside: set[int] = set()
    open_key = False
    for index, text in enumerate(texts):
        if text is None:
            open_key = False
            continue
        if open_key and "-----END" not in text and _PEM_BODY_LINE.fullmatch(text):
            inside.add(index)
            continue
        open_key = _PEM_HEADER.search(text) is not None and "-----END" not in text
    return inside


class Redactor:
    """Masks known secret values and well-known secret shapes in text.

    ``Redactor(secrets)`` knows the given values; :meth:`add` teaches it more. A value (after
    stripping surrounding whitespace) shorter than :data:`MIN_SECRET_LENGTH` characters is
    ignored, and so is each line or encoding of it that is that short: masking ``1`` or
    ``true`` everywhere would destroy the text (see :func:`_variants` for the encodings).

    :meth:`redact` never raises, runs in time linear in the text, and is idempotent. The values
    are never part of the object's ``repr``.
    """

    __slots__ = ("_regexes", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[bytes] = set()
        self._regexes: list[Any] | None = []
        for secret in secrets:
            self.add(secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        """A redactor for the secrets found in ``env`` (see :func:`secrets_from_env`)."""
        return cls(secrets_from_env(env))

    def add(self, secret: str) -> None:
        """Mask ``secret`` (and its common encodings) from now on; too short: ignored."""
        forms = _variants(secret) - self._secrets
        if forms:
            self._secrets |= forms
            self._regexes = None  # rebuilt on the next redact()

    def __len__(self) -> int:
        """How many literal forms are masked (values, lines, encodings); mostly for tests."""
        return len(self._secrets)

    def __repr__(self) -> str:
        return f"<Redactor: {len(self._secrets)} literal forms>"

    def redact(self, text: str) -> str:
        """``text`` with every known secret and every well-known secret shape masked."""
        if not text:
            return text
        if self._regexes is None:
            self._regexes = _literal_regexes(self._secrets)
        data = text.encode(_ENCODING, _ERRORS)
        masked = _mask_literals(data, self._regexes)
        masked = _formats_pass().apply(_pattern_pass().apply(masked))
        if masked is data:
            return text
        return masked.decode(_ENCODING, _ERRORS)

    def redact_values(self, document: Any) -> Any:
        """A copy of a JSON-like document (dicts, lists, strings, numbers) with every string
        value redacted; keys are kept. Serialise *after* this, never redact serialised JSON: a
        mask inside an escaped string can swallow its closing quote (``password = "``), and
        ``\\"`` hides the quotes a value pattern looks for."""
        if isinstance(document, str):
            return self.redact(document)
        if isinstance(document, Mapping):
            return {key: self.redact_values(value) for key, value in document.items()}
        if isinstance(document, list | tuple):
            return self._redact_items(list(document))
        return document

    def _redact_items(self, items: list[Any]) -> list[Any]:
        """A list's items redacted; when they are lines (strings, or ``{"text": ...}`` as
        evidence is), a private key whose body spans several items is masked too: each item
        alone is only base64, recognisable by what the item before it said."""
        texts = [
            item
            if isinstance(item, str)
            else item.get("text")
            if isinstance(item, Mapping)
            else None
            for item in items
        ]
        inside = _pem_body_items(texts)
        redacted = [self.redact_values(item) for item in items]
        for index in inside:
            if isinstance(redacted[index], str):
                redacted[index] = MASK
            else:
                redacted[index] = {**redacted[index], "text": MASK}
        return redacted


# --------------------------------------------------------------------------------------------
# Which environment variables hold secrets.
# --------------------------------------------------------------------------------------------

KNOWN_SECRET_NAMES = frozenset(
    {
        # pipeline-guard's own inputs (GitHub keeps the dashes of input names).
        "INPUT_GITHUB-TOKEN",
        "INPUT_GITHUB_TOKEN",
        "INPUT_TOKEN",
        "INPUT_FIX-TOKEN",
        "INPUT_FIX_TOKEN",
        "INPUT_GITLAB-TOKEN",
        "INPUT_GITLAB_TOKEN",
        "PIPELINE_GUARD_TOKEN",
        "PIPELINE_GUARD_FIX_TOKEN",
        # GitHub Actions.
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        # GitLab CI/CD predefined variables.
        "CI_JOB_TOKEN",
        "CI_BUILD_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V1",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "CI_DEPLOY_PASSWORD",
        "CI_DEPENDENCY_PROXY_PASSWORD",
        "CI_RUNNER_TOKEN",
        "DOCKER_AUTH_CONFIG",
        "GITLAB_TOKEN",
        "GL_TOKEN",
    }
)
"""Always secret, whatever the value looks like (see :func:`secrets_from_env`)."""

_SECRET_WORDS = frozenset(
    "TOKEN TOKENS SECRET SECRETS PASSWORD PASSWORDS PASSWD PASS PW PASSPHRASE CREDENTIAL "
    "CREDENTIALS CREDS JWT APIKEY PAT AUTH AUTHTOKEN WEBHOOK PRIVATEKEY DSN COOKIE COOKIES "
    "SESSIONID".split()
)
_COMPOUND_ENDINGS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE")
"""Words that make a secret name also when glued to another (``authToken``, ``APITOKEN``)."""
_SECRET_KEY_QUALIFIERS = frozenset(
    "API PRIVATE ACCESS SECRET SIGNING ENCRYPTION MASTER DEPLOY SSH LICENSE CLIENT ACCOUNT "
    "AUTH SHARED STORAGE SERVICE APP HMAC CRYPT CIPHER".split()
)
_NON_SECRET_LAST_WORDS = frozenset(
    "URL URI URLS ENDPOINT HOST HOSTNAME PORT PATH FILE FILES DIR DIRECTORY NAME NAMES TYPE "
    "KIND SCOPE SCOPES USER USERNAME LOGIN EMAIL EXPIRES EXPIRY EXPIRATION AT TTL LENGTH "
    "ENABLED DISABLED REQUIRED MODE VERSION HEADER FORMAT SOCK SOCKET COUNT LIMIT PREFIX "
    "PROVIDER METHOD".split()
)
"""A name ending with one of these describes a secret without holding it:
``ACTIONS_ID_TOKEN_REQUEST_URL`` (a URL), ``SSH_AUTH_SOCK``, ``TOKEN_FILE``,
``CI_REGISTRY_USER``. ``WEBHOOK`` overrides: ``SLACK_WEBHOOK_URL`` is the secret itself."""

_PUBLIC_WORDS = frozenset({"PUBLIC", "PUBLISHABLE", "PUB"})
"""Public halves are not secrets: .NET's ``PublicKeyToken=...``, Stripe's publishable key."""

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def _name_words(name: str) -> list[str]:
    """``authToken``, ``AUTH_TOKEN``, ``auth-token`` and ``auth.token`` all give AUTH, TOKEN."""
    split = _CAMEL.sub(r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", split.upper()) if w]


def is_secret_name(name: str) -> bool:
    """Whether a variable, key or field called ``name`` holds a secret, judged by its words.

    The one rule for secret names: :func:`secrets_from_env` uses it on the environment and the
    shape pass on ``name = value`` assignments in text. Secret when a word is TOKEN, SECRET,
    PASSWORD, PASSWD, PASS, PW, PASSPHRASE, CREDENTIAL(S), CREDS, JWT, PAT, AUTH, APIKEY, DSN,
    COOKIE, WEBHOOK or PWD after another word (``DB_PWD``, not ``PWD``); a word ending in TOKEN,
    SECRET or PASSWORD (``APITOKEN``); or KEY after a qualifier (``API_KEY``, ``ENCRYPTION_KEY``,
    ``ACCOUNTKEY``), or CONNECTION STRING. Not when the last word says the name describes a
    secret rather than holds it (``TOKEN_URL``, ``SSH_AUTH_SOCK``, ``CI_REGISTRY_USER``).
    """
    words = _name_words(name)
    if not words:
        return False
    if any(word.startswith("WEBHOOK") for word in words):
        return True
    if words[-1] in _NON_SECRET_LAST_WORDS or not _PUBLIC_WORDS.isdisjoint(words):
        return False
    return any(
        _secret_word(word, words[index - 1] if index else None) for index, word in enumerate(words)
    )


def _secret_word(word: str, previous: str | None) -> bool:
    """Whether ``word`` (after ``previous``, None for the first word) makes a name secret."""
    if word in _SECRET_WORDS or word == "CONNSTR" or (word == "PWD" and previous is not None):
        return True
    if word.endswith(_COMPOUND_ENDINGS):
        return True
    if word.endswith("KEY") and (word[:-3] in _SECRET_KEY_QUALIFIERS):
        return True
    if word == "KEY" and previous in _SECRET_KEY_QUALIFIERS:
        return True
    return word == "STRING" and previous in ("CONNECTION", "CONN")


def _value_looks_secret(value: str) -> bool:
    """Whether a value found under a secret-looking *name* is worth masking.

    A name heuristic also catches ``AUTH_PROVIDER=github`` or ``TOKEN_TTL=3600``: masking
    ``github`` or a number everywhere would wreck the text. So the value must look like a
    credential: at least 16 characters, or at least two kinds of characters among lower case,
    upper case, digits and others (``hunter2x`` yes, ``production`` no), and not only digits.
    """
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH or value.isdigit() or not value.strip("*"):
        return False
    if value.lower() in ("true", "false", "null", "none", "[masked]"):
        return False
    if len(value) >= 16:
        return True
    kinds = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return kinds >= 2


def secrets_from_env(env: Mapping[str, str]) -> list[str]:
    """The values in ``env`` that must never leave the runner, in ``env`` order, no duplicates.

    - Every variable in :data:`KNOWN_SECRET_NAMES` (the token inputs, ``GITHUB_TOKEN``,
      ``CI_JOB_TOKEN``, ...) whose value is at least :data:`MIN_SECRET_LENGTH` long.
    - Every variable whose *name* looks secret: one of its words (split on ``_``, ``-``,
      ``.``) is TOKEN, SECRET, PASSWORD, PASSWD, PASS, PASSPHRASE, CREDENTIAL(S), JWT, PAT,
      AUTH, APIKEY, WEBHOOK, or it has API_KEY, PRIVATE_KEY, ACCESS_KEY, SIGNING_KEY... This is
      how ``secrets.*`` passed to the step as ``env:`` arrive. Names whose last word says they
      describe rather than hold a secret are skipped (``ACTIONS_ID_TOKEN_REQUEST_URL``,
      ``TOKEN_FILE``, ``CI_REGISTRY_USER``, ``SSH_AUTH_SOCK``), and so are values that do not
      look like credentials (see :func:`_value_looks_secret`).
    """
    found: dict[str, None] = {}
    for name, value in env.items():
        if not isinstance(value, str):
            continue
        stripped = value.strip()
        if name.upper() in KNOWN_SECRET_NAMES:
            keep = len(stripped) >= MIN_SECRET_LENGTH and bool(stripped.strip("*"))
        else:
            keep = is_secret_name(name) and _value_looks_secret(stripped)
        if keep:
            found.setdefault(value, None)
    return list(found)
