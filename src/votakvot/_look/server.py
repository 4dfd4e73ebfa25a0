"""`votakvot.serve_ui`: the report page served live from a local HTTP server.

The server answers four requests and nothing else: `/` (the page), `/api/trials?after=G` (rows
changed since generation G), `/api/trial?tid=T` (one trial's panel) and `/api/curves?tid=T`
(one trial's curves). A tid is looked up among the trials of the last load, never turned into a
path, so no request can reach a file outside the root; files reached through a symbolic link
are not read. Bound to a loopback address, it answers only requests whose Host is a loopback
name (a web page elsewhere cannot rebind a name of its own to it).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import warnings
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import embed, live, page

log = logging.getLogger("votakvot.ui")

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def is_loopback(host: str) -> bool:
    """Tells whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: live.LiveRoot) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__((address[0].strip("[]"), address[1]), _Handler)
        self.root = root
        port = self.server_address[1]
        self.allowed_hosts = {f"{name}:{port}" for name in _LOOPBACK_NAMES} if is_loopback(address[0]) else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "votakvot"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        allowed = self.server.allowed_hosts
        if allowed is not None and self.headers.get("Host", "") not in allowed:
            return self._json(403, {"error": "this server answers only to localhost, 127.0.0.1 or [::1]"}, body)
        parts = urlsplit(self.path)
        try:
            query = parse_qs(parts.query, keep_blank_values=True, max_num_fields=4)
        except ValueError:
            return self._json(400, {"error": "too many query fields"}, body)
        if any(len(values) != 1 for values in query.values()):
            return self._json(400, {"error": "each query field may be given once"}, body)
        one = {key: values[0] for key, values in query.items()}
        root = self.server.root
        try:
            if parts.path == "/":
                data = root.page()
                html = page.render(data).encode("utf-8")
                policy = page.policy(page.scripts(), live=True) + "; frame-ancestors 'none'"
                return self._send(200, "text/html; charset=utf-8", html, body, policy)
            if parts.path == "/api/trials":
                after = one.get("after", "0")
                if not after.isdigit():
                    return self._json(400, {"error": f"after={after!r} is not a generation number"}, body)
                return self._json(200, root.changes(int(after)), body)
            if parts.path in ("/api/trial", "/api/curves") and "tid" in one:
                if parts.path == "/api/trial":
                    found = root.panel(one["tid"])
                else:
                    found = root.curves(one["tid"], one.get("sig"))
                if found is None:
                    return self._json(404, {"error": "no such trial"}, body)
                return self._json(200, found, body)
        except Exception as e:  # one failed answer must not stop the server; the page shows it
            log.exception("votakvot ui: %s failed", parts.path)
            return self._json(500, {"error": f"{type(e).__name__}: {e}"}, body)
        return self._json(404, {"error": "not found"}, body)

    def _json(self, status: int, data: Any, body: bool) -> None:
        self._send(status, "application/json", embed.dumps(data).encode(), body, "default-src 'none'")

    def _send(self, status: int, kind: str, content: bytes, body: bool, policy: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Content-Security-Policy", policy)
        for name, value in _HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(content)


def serve_ui(
    path: str | os.PathLike[str] | Any | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    poll_seconds: float = 1.5,
    storage_options: dict[str, Any] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serves the report page of the trials below `path` (default: the root from `init`) and
    keeps it live until interrupted (Ctrl-C): new trials appear, running curves grow, crashed
    trials turn red. The page asks every `poll_seconds` for what changed.

    It listens on 127.0.0.1 unless `host` says otherwise; another address warns, since there is
    no authentication. `port=0` takes a free port. `on_ready(url)` is called once it listens.
    Needs `pip install 'votakvot[report]'` (plotly).

        votakvot.serve_ui("./my-results", port=8765)
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"serve_ui(port={port!r}) takes a TCP port number (0 for any free one), e.g. 8765")
    if not isinstance(poll_seconds, (int, float)) or not 0.1 <= poll_seconds <= 3600:
        raise ValueError(f"serve_ui(poll_seconds={poll_seconds!r}) takes seconds between 0.1 and 3600, e.g. 1.5")
    page.plotly_js()  # a missing extra fails before anything listens
    if not is_loopback(host):
        warnings.warn(
            f"votakvot ui listens on {host!r}: anyone who can reach it can read every trial it shows; "
            "there is no authentication (the default, 127.0.0.1, is reachable from this machine only)",
            stacklevel=2,
        )
    root = live.LiveRoot(path, storage_options, poll_seconds=float(poll_seconds))
    server = _Server((host, port), root)
    try:
        shown = host if ":" not in host else f"[{host}]"
        if on_ready is not None:
            on_ready(f"http://{shown}:{server.server_address[1]}/")
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
