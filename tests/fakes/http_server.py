"""A real HTTP server on 127.0.0.1 for fake forges: routing, request log, faults on demand.

The fake GitHub and GitLab APIs (``github_api.py``, ``gitlab_api.py``) are subclasses that add
routes and state. What they share lives here: every request is recorded (method, path, query,
headers, JSON body) for assertions and contract checks, and a test can make the next matching
requests fail (status, headers, body) or answer slowly, to exercise the client's retries,
timeouts and error messages.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str  # without the query string, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


Handler = Callable[[Request], Response]


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    response: Response | None  # None: no answer change, only the delay
    times: int
    delay: float = 0.0


class FakeServer:
    """Routes, request log and faults. Use as a context manager; ``url`` is the base URL."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test (default 0.5 s).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose whole path matches ``pattern`` (named groups)."""
        self._routes.append((method, re.compile(pattern), handler))

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead."""
        response = Response(
            status, body if body is not None else {"message": "fault"}, headers or {}
        )
        with self._lock:
            self._faults.append(Fault(method, re.compile(path), response, times))

    def slow(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Delay the next ``times`` matching requests by ``seconds`` before answering."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path), None, times, seconds))

    def find(self, method: str, path_pattern: str) -> list[Request]:
        """The recorded requests with this method whose path matches the pattern."""
        pattern = re.compile(path_pattern)
        with self._lock:
            return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == request.method and fault.path.fullmatch(request.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.response is not None:
                return fault.response
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                with self._lock:
                    return handler(request)
        return Response(404, {"message": "Not Found"})

    def decorate(self, request: Request, response: Response) -> None:
        """Hook for subclasses: add headers every response carries (rate limits, ...)."""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, keep-alive clients
            # wait ~40 ms for a delayed ACK on every request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response = server.dispatch(request)
                server.decorate(request, response)
                payload, content_type = response.encoded()
                self.send_response(response.status)
                headers = {"Content-Type": content_type, **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    # The client may have given up (a timeout test): nothing to answer then.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        return _Handler


def pages(
    items: list[Any], request: Request, default: int = 30, maximum: int = 100
) -> Iterator[Any]:
    """Helper for subclasses: the slice of ``items`` for ``page``/``per_page``, 1-based."""
    per_page = min(int(request.arg("per_page") or default), maximum)
    page = max(int(request.arg("page") or 1), 1)
    yield from items[(page - 1) * per_page : page * per_page]


def page_links(
    base_url: str, request: Request, total: int, default: int = 30, maximum: int = 100
) -> str:
    """Helper for subclasses: an RFC 8288 ``Link`` header for the page ``request`` asked for.

    GitHub and GitLab both paginate with ``page``/``per_page`` and a ``Link`` header whose URLs
    are absolute and keep every other query parameter; clients follow ``rel="next"`` blindly,
    so the fake must build them the same way. Empty string when everything fits on one page.
    """
    per_page = min(max(int(request.arg("per_page") or default), 1), maximum)
    page = max(int(request.arg("page") or 1), 1)
    last = max((total + per_page - 1) // per_page, 1)

    def url(number: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        query["page"] = [str(number)]
        return f"{base_url}{request.path}?{urlencode(query, doseq=True)}"

    links: list[str] = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"', f'<{url(min(page - 1, last))}>; rel="prev"']
    return ", ".join(links)
