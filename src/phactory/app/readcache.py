"""A cache of the API's read answers, valid until the database changes.

Dashboards and scripts poll the same few reads (sites, scenarios, runs and their
progress, KPIs) many times a second, and the data behind them changes a few times a
second at most (a running job writes its progress every 0.3 s). Computing each answer
costs a database query, request validation and serialisation (1 to 3 ms of CPU); sending a
kept answer costs a dictionary look-up. So an answer is kept together with the
:class:`DataVersion` it was computed at, and served again while nothing has been written.

:class:`DataVersion` changes whenever this process writes to the database through the
store's engine (any statement that is not a read, seen by an SQLAlchemy event), once
when the statement runs and once more when its connection goes back to the pool (after
the commit), so that an answer computed from data read before a commit is never kept
under the version that follows it. Writes by *other* processes on the same database
(another server, the ``phactory`` command) are not seen: answers are therefore also
kept at most :data:`MAX_AGE_S`.

The cache sits in front of the routes. It answers only ``GET`` requests that carry a
credential already known to :class:`~phactory.app.services.accounts.AccountService`'s
in-memory cache (so a revoked or expired credential is never served), on the paths of
:data:`CACHEABLE`, whose answers are the same for every authenticated user. Everything
else goes to the routes unchanged. Each kept answer has an ``ETag``, and a request with a
matching ``If-None-Match`` gets ``304 Not Modified``; ``Cache-Control: no-cache`` in a
request makes the server compute the answer again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Engine, event

from phactory.app.principal import SESSION_COOKIE

if TYPE_CHECKING:
    from phactory.app.context import AppContext

__all__ = ["CACHEABLE", "MAX_AGE_S", "QUIET", "DataVersion", "ReadCache"]

#: Paths whose ``GET`` answers depend on the stored data only (not on who asks).
CACHEABLE: Final = re.compile(
    r"^/api/v1/(?:sites|scenarios|runs)(?:/(?!.*\.csv$)[^/]+(?:/[a-z]+)?)?$"
)
#: Longest time an answer is kept [s], for writes by other processes.
MAX_AGE_S: Final = 1.0
#: Most answers kept (least recently used ones go first).
MAX_ENTRIES: Final = 512
#: Largest answer kept [bytes] (site contents can be large; they are rarely polled).
MAX_BODY: Final = 1_000_000
#: First words of the statements that do not change data.
_READS: Final = frozenset(
    {"SELECT", "PRAGMA", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "SHOW", "SET"}
)
_DIRTY: Final = "phactory_wrote"
#: Execution option of writes that change nothing the cached reads show (bookkeeping
#: such as a token's ``last_used_at``).
QUIET: Final = "phactory_quiet"


class DataVersion:
    """A number that changes whenever this process writes to the database."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        """The current version."""
        return self._value

    def bump(self) -> None:
        """Note a change (writes call it; so can anything that changes what reads show)."""
        with self._lock:
            self._value += 1

    def watch(self, engine: Engine) -> None:
        """Bump on every write statement ``engine`` runs, and again after its commit."""

        def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            word = statement.lstrip()[:9].split(None, 1)
            if (
                word
                and word[0].upper() not in _READS
                and not conn.get_execution_options().get(QUIET)
            ):
                conn.info[_DIRTY] = True
                self.bump()

        def checkin(dbapi_connection: Any, record: Any) -> None:
            if record is not None and record.info.pop(_DIRTY, False):
                self.bump()

        event.listen(engine, "after_cursor_execute", after_execute)
        event.listen(engine.pool, "checkin", checkin)


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    at: float
    etag: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _credential(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None, bytes, bool]:
    """Bearer token, session cookie, If-None-Match and whether ``no-cache`` was asked."""
    token = cookie = None
    match = b""
    no_cache = False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                token = rest.strip()
        elif name == b"cookie" and SESSION_COOKIE.encode() in value:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header: let the routes answer
                continue
            if SESSION_COOKIE in jar:
                cookie = jar[SESSION_COOKIE].value
        elif name == b"if-none-match":
            match = value
        elif name == b"cache-control" and b"no-cache" in value:
            no_cache = True
    return token, cookie, match, no_cache


class ReadCache:
    """ASGI middleware keeping the answers of :data:`CACHEABLE` reads (see the module).

    Parameters
    ----------
    app
        The application behind it.
    context
        Returns the running :class:`~phactory.app.context.AppContext`, or ``None``
        before start-up.
    """

    def __init__(self, app: Any, context: Callable[[], AppContext | None]) -> None:
        self.app = app
        self.context = context
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future[_Entry | None]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not CACHEABLE.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        ctx = self.context()
        if ctx is None:
            await self.app(scope, receive, send)
            return
        token, cookie, match, no_cache = _credential(scope["headers"])
        if token is not None:  # the routes' rule: a token if there is one, else the cookie
            known = ctx.accounts.cached_principal(token, kind="api")
        elif cookie is not None:
            known = ctx.accounts.cached_principal(cookie, kind="session")
        else:
            known = None
        if token is None and cookie is None:
            await self.app(scope, receive, send)  # the routes answer 401
            return
        key = scope["path"].encode() + b"?" + scope["query_string"]
        version = ctx.data_version.value
        # A credential not verified lately (or revoked) is never answered from the cache:
        # the routes check it; their answer is kept only if it is a 200.
        use_kept = known is not None and not no_cache
        entry = self._fresh(key, version) if use_kept else None
        if entry is None:
            pending = self._inflight.get(key)
            if pending is not None and use_kept:
                entry = await asyncio.shield(pending)
                entry = entry if entry is not None and entry.version == version else None
        if entry is not None:
            await self._send(send, entry, match, b"hit")
            return
        await self._compute(scope, receive, send, key, version, match)

    def _fresh(self, key: bytes, version: int) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.version != version or time.monotonic() - entry.at > MAX_AGE_S:
            return None
        self._entries.move_to_end(key)
        return entry

    async def _compute(
        self, scope: Any, receive: Any, send: Any, key: bytes, version: int, match: bytes
    ) -> None:
        future: asyncio.Future[_Entry | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        passed = False

        async def capture(message: Any) -> None:
            nonlocal passed
            if passed:
                await send(message)
            elif message["type"] == "http.response.start":
                start.update(message)
                if message["status"] != 200:  # errors are not kept: pass them on as they are
                    passed = True
                    await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False) and sum(map(len, chunks)) > MAX_BODY:
                    passed = True
                    await send(start)
                    await send({**message, "body": b"".join(chunks)})
            else:
                await send(message)

        entry = None
        try:
            await self.app(scope, receive, capture)
            if not passed and start:
                body = b"".join(chunks)
                digest = hashlib.blake2b(body, digest_size=12).hexdigest()
                headers = [
                    (k, v)
                    for k, v in start.get("headers", [])
                    if k.lower() not in (b"content-length", b"etag", b"cache-control")
                ]
                entry = _Entry(version, time.monotonic(), f'"{digest}"'.encode(), headers, body)
                if len(body) <= MAX_BODY:
                    self._entries[key] = entry
                    self._entries.move_to_end(key)
                    while len(self._entries) > MAX_ENTRIES:
                        self._entries.popitem(last=False)
                await self._send(send, entry, match, b"miss")
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
            future.set_result(entry)

    @staticmethod
    async def _send(send: Any, entry: _Entry, match: bytes, how: bytes) -> None:
        common = [
            (b"etag", entry.etag),
            (b"cache-control", b"private, no-cache"),
            (b"x-cache", how),
        ]
        if match and (entry.etag in match or match.strip() == b"*"):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*entry.headers, (b"content-length", str(len(entry.body)).encode()), *common]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})
