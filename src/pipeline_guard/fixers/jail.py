"""The jail a fixer's tools run in: no token reachable by any route.

A fixer runs formatters and package managers in a checkout of a branch anyone with push access
controls, while pipeline-guard holds the CI token and maybe a ``fix-token``. Three routes lead
from a tool to a token, and each is closed here (``docs/fixers.md`` says why in more words):

* **The environment.** A tool gets an allow-list of variables (:data:`PASSED`: locale, proxy and
  certificate settings, package-index locations), never our own environment minus a list of
  names: a deny-list always misses a name (``CI_JOB_JWT``, ``DEPLOY_KEY``, ``DATABASE_URL``).
  A passed value carrying credentials in a URL (``https://user:token@proxy``) is dropped too.
  ``HOME`` is a scratch folder of the jail, so no ``~/.npmrc``, ``~/.pypirc`` or
  ``~/.git-credentials`` of the runner is read.
* **``/proc``.** The guard makes itself non-dumpable (:func:`seal_process`), so no other
  process of its user can read ``/proc/<guard>/environ``. The guard's parent (the CI shell)
  still holds the tokens in its environment, so tools must not run as that user either: where
  the guard is root (the container action, GitLab's Docker executor) tools run as the
  unprivileged ``nobody``; elsewhere they run in a new user, PID and mount namespace
  (``unshare``), whose ``/proc`` shows no process but their own. Where neither is possible the
  fixer refuses (:class:`~pipeline_guard.errors.FixUnavailable` with the command to run).
* **git.** The checkout's ``.git`` may hold a persisted token (``actions/checkout``'s
  ``extraheader``, GitLab's remote URL). As ``nobody`` the ``.git`` folder is closed to the tool
  for the run (:meth:`Jail.opened`); in a namespace an empty tmpfs is mounted over it. The
  guard's own git calls are hardened in :mod:`.git`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.errors import FixUnavailable

# Variables a tool may see: what makes the network, the locale and package indexes work.
PASSED = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PIP_CERT",
        "NODE_EXTRA_CA_CERTS",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_NO_INDEX",
        "PIP_FIND_LINKS",
        "PIP_TRUSTED_HOST",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_INDEX",
        "NPM_CONFIG_REGISTRY",
        "npm_config_registry",
        "GOPROXY",
        "GONOSUMDB",
        "GOPRIVATE",
        "GOTOOLCHAIN",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    }
)
_PASSED_PREFIXES = ("LC_",)
_URL_CREDENTIALS = re.compile(r"://[^/@\s]*@")
NOBODY = "nobody"
# Run a command inside the namespace with an empty tmpfs over the checkout's `.git`.
_HIDE_GIT = (
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin mount -t tmpfs -o size=1m tmpfs "$1" || exit 126; '
    'shift; exec "$@"'
)


def seal_process() -> None:
    """Make this process non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): its ``/proc/<pid>``
    files (``environ``, ``mem``, ``cmdline``) then belong to root, and no process of the same
    user can read the tokens in its environment or attach a debugger. Linux only; elsewhere a
    no-op (fixers refuse to run there anyway, see :meth:`Jail.from_env`)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def tool_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``env`` a tool may see (:data:`PASSED`), without URL credentials."""
    return {
        name: value
        for name, value in env.items()
        if (name in PASSED or name.startswith(_PASSED_PREFIXES))
        and not _URL_CREDENTIALS.search(value)
    }


def _with_rustup(passed: dict[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """rustup finds its toolchains under ``$HOME/.rustup``; the tools' HOME is the jail's, so
    the runner's rustup home is named explicitly (it holds toolchains, no credentials)."""
    rustup = Path(env.get("HOME", "/nonexistent")) / ".rustup"
    if "RUSTUP_HOME" not in passed and rustup.is_dir():
        passed["RUSTUP_HOME"] = str(rustup)
    return passed


@dataclass(frozen=True)
class JailUser:
    """The unprivileged account tools run as when the guard is root."""

    name: str
    uid: int
    gid: int


def unprivileged_user() -> JailUser | None:
    """``nobody`` when the guard runs as root, else ``None`` (tools then need a namespace)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(NOBODY)
    except KeyError:
        return JailUser(NOBODY, 65534, 65534)
    return JailUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def namespaces_work(unshare: str | None) -> bool:
    """Whether this machine lets us create a user + PID + mount namespace (probed once)."""
    if unshare is None:
        return False
    try:
        done = subprocess.run(
            [unshare, *_UNSHARE, "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


_UNSHARE = ("--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--kill-child")


@dataclass(frozen=True)
class Jail:
    """How tools run: their environment, their user or namespace, their caches, and whether
    the repository's own executables may run at all (``fix.trust-repo-tools``)."""

    env: Mapping[str, str]  # already allow-listed (:func:`tool_env`)
    cache_dir: Path  # tool environments and the jail's HOME live under it
    user: JailUser | None = None  # run as this user (the guard is root)
    unshare: str | None = None  # run in a namespace with this `unshare` (the guard is not root)
    trust_repo_tools: bool = False
    hidden: Path | None = None  # the `.git` folder an empty tmpfs hides in the namespace
    blocked: str = ""  # why no tool may run in this workspace (fixers that run none still can)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], cache_dir: Path, *, trust_repo_tools: bool = False
    ) -> Jail:
        """The jail for this machine: ``nobody`` when root, a namespace otherwise."""
        user = unprivileged_user()
        unshare = None
        if user is None:
            found = shutil.which("unshare", path=env.get("PATH"))
            unshare = found if namespaces_work(found) else None
        return cls(_with_rustup(tool_env(env), env), cache_dir, user, unshare, trust_repo_tools)

    @property
    def confined(self) -> bool:
        """Whether tools run away from the guard's tokens (another user or a namespace)."""
        return self.user is not None or self.unshare is not None

    @property
    def tools_dir(self) -> Path:
        return self.cache_dir / "tools"

    @property
    def home(self) -> Path:
        """The tools' HOME: their caches (npm, go, cargo, pip), nothing of the runner's; one
        per kind of jail, as each belongs to the user its tools run as."""
        return self.cache_dir / (
            "jail-home" if self.user is None else f"jail-home-{self.user.name}"
        )

    def which(self, name: str) -> Path | None:
        """A tool on the jail's PATH that the jail's user can run."""
        found = shutil.which(name, path=self.env.get("PATH", os.defpath))
        if found is None:
            return None
        path = Path(found)
        return path if self.user is None or runnable_by(path, self.user) else None

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A tool's environment: the allow-list, the jail's HOME, and what the fixer adds."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            self.let_in(self.cache_dir)
            os.chown(self.home, self.user.uid, self.user.gid)
        return {
            **self.env,
            "HOME": str(self.home),
            "CI": "true",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            **(extra or {}),
        }

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as it must be started: inside the namespace, ``.git`` hidden."""
        if self.user is not None or self.unshare is None:
            return list(argv)
        hide = ["/bin/sh", "-c", _HIDE_GIT, "sh", str(self.hidden)] if self.hidden else []
        return [self.unshare, *_UNSHARE, *hide, *argv]

    def let_in(self, folder: Path) -> None:
        """Let the jail's user read and enter one of our cache folders (it holds tools from
        package registries, nothing secret); folders of others are left as they are."""
        info = folder.stat()
        if info.st_uid == os.geteuid():
            folder.chmod(stat.S_IMODE(info.st_mode) | 0o055)

    def popen_options(self) -> dict[str, object]:
        """``subprocess`` options: the unprivileged user and no supplementary group."""
        if self.user is None:
            return {}
        return {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}

    def require_confinement(self, command: str) -> None:
        """Refuse to run a tool when it could reach the tokens (no root, no namespaces), or
        could not reach the checkout."""
        if self.blocked:
            raise FixUnavailable(self.blocked, command)
        if not self.confined:
            raise FixUnavailable(
                "cannot isolate the fixer's tools from this runner's tokens here (pipeline-guard "
                "is not root and user namespaces are off): run the fix yourself",
                command,
            )

    @contextlib.contextmanager
    def opened(self, workspace: Path) -> Iterator[Jail]:
        """The workspace writable by the jail's user for the duration, ``.git`` closed to it;
        every owner and mode is put back afterwards (files the tools created are handed to the
        workspace's owner)."""
        git_dir = workspace / ".git"
        if self.user is None:
            yield dataclasses.replace(self, hidden=git_dir if git_dir.is_dir() else None)
            return
        closed = [p for p in workspace.parents if p.stat().st_mode & stat.S_IXOTH == 0]
        if closed:
            yield dataclasses.replace(
                self,
                blocked=f"{closed[0]} is closed to others, so the unprivileged user "
                f"{self.user.name} that runs the fixer's tools cannot reach the checkout",
            )
            return
        owners = _owners(workspace)
        git_mode = git_dir.lstat().st_mode if git_dir.is_dir() else None
        try:
            if git_mode is not None:
                git_dir.chmod(0o700)
            for path in owners:
                os.lchown(path, self.user.uid, self.user.gid)
            yield self
        finally:
            _give_back(workspace, owners)
            if git_mode is not None:
                git_dir.chmod(stat.S_IMODE(git_mode))


def _owners(workspace: Path) -> dict[Path, tuple[int, int]]:
    """Every entry of the workspace but ``.git``, with its owner, to give it back later."""
    owners = {workspace: _owner(workspace)}
    for root, dirs, files in os.walk(workspace):
        if Path(root) == workspace and ".git" in dirs:
            dirs.remove(".git")
        for name in (*dirs, *files):
            path = Path(root, name)
            owners[path] = _owner(path)
    return owners


def _owner(path: Path) -> tuple[int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid


def _give_back(workspace: Path, owners: dict[Path, tuple[int, int]]) -> None:
    default = owners[workspace]
    for path in _owners(workspace):
        with contextlib.suppress(FileNotFoundError):
            os.lchown(path, *owners.get(path, default))


def runnable_by(path: Path, user: JailUser) -> bool:
    """Whether ``user`` (not in the file's group, not its owner) may run ``path``: every
    folder above it searchable and the file executable by others."""
    try:
        target = path.resolve(strict=True)
    except OSError:
        return False
    chain = [target, *target.parents]
    for index, part in enumerate(chain):
        mode = part.stat().st_mode
        needed = stat.S_IXOTH if index else stat.S_IXOTH | stat.S_IROTH
        if part.stat().st_uid != user.uid and mode & needed != needed:
            return False
    return True
