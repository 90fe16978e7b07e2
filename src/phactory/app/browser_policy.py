"""Security headers on every response, and a Content-Security-Policy with per-response nonces.

An ASGI middleware, outermost, so that every answer gets the headers: API routes, pages,
static files, the read cache's kept answers, redirects and errors alike.

Headers (all responses)
    ``Content-Security-Policy`` (below), ``X-Frame-Options: DENY`` with
    ``frame-ancestors 'none'`` (no page of the workspace can be framed, by another site
    or by itself: the attack that framed ``/admin`` from a script-injected page),
    ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
    ``Cross-Origin-Opener-Policy: same-origin``, ``Cross-Origin-Resource-Policy:
    same-origin``, a ``Permissions-Policy`` that turns off camera, microphone and
    location, and ``Strict-Transport-Security`` when the request came over HTTPS.

The policies (:data:`PAGE_POLICY`, :data:`API_POLICY`, :data:`RECORD_POLICY`)
    * Workspace pages (NiceGUI): scripts only from this origin or carrying the
      response's nonce. NiceGUI writes its page as inline scripts (the import map, the
      Vue application with the page's elements) and has no nonce support of its own, so
      :class:`PageNonces`, a middleware of NiceGUI's own application (inside its
      compression, so that the page is rewritten before it is compressed, once), adds
      the response's nonce to every ``<script`` tag of a NiceGUI page answer (recognised
      by NiceGUI's ``X-NiceGUI-Content: page`` header), and :class:`BrowserPolicy` names
      it in the policy. This is safe because NiceGUI HTML-escapes everything it puts in the
      page (``<`` of element data becomes ``&lt;``; the title is escaped by Jinja), so
      the only ``<script`` tags are NiceGUI's own. Inline event handlers
      (``onerror=``, ``onanimationstart=``...) and ``javascript:`` URLs stay blocked:
      that is what stops an injected attribute from running.
      ``'unsafe-eval'`` is needed, and is the one concession: Vue compiles NiceGUI's
      component templates in the browser, and NiceGUI evaluates ``:prop`` expressions
      and ``run_javascript`` code with ``eval``/``new Function``. The defence against
      that channel is that user text never becomes a prop *name*, an event handler or
      JavaScript (see :mod:`phactory.app.ui.safety`). ``style-src 'unsafe-inline'`` is
      needed by Quasar, Tailwind's runtime and Plotly, which set styles inline.
    * API answers and everything that is not a page: ``default-src 'none'`` (nothing
      is ever rendered from them).
    * The batch record as HTML (``/batch-records/<id>/record.html``, and the API's
      ``/api/v1/batches/<id>/record.html``) is shown inside
      the QA review page, so it may be framed by this origin only (``frame-ancestors
      'self'``, ``X-Frame-Options: SAMEORIGIN``) and may run no script at all.
    * The API docs (``/docs``, ``/redoc``): Swagger UI and ReDoc from this server, no
      inline script (:mod:`phactory.app.api.docs`); ReDoc runs a worker from a blob.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Final

__all__ = [
    "API_POLICY",
    "DOCS_POLICY",
    "NONCE_KEY",
    "PAGE_POLICY",
    "RECORD_POLICY",
    "BrowserPolicy",
    "PageNonces",
]

#: Policy of the NiceGUI pages; ``{nonce}`` is the response's nonce.
PAGE_POLICY: Final = (
    "default-src 'self'; "
    "script-src 'self' 'nonce-{nonce}' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "worker-src 'self' blob:; "
    "frame-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Policy of the API docs pages (Swagger UI and ReDoc from this server).
DOCS_POLICY: Final = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "connect-src 'self'; "
    "worker-src 'self' blob:; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Policy of everything else (JSON, files, redirects): nothing may load or run.
API_POLICY: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
#: Policy of the batch record as HTML: its own styles, no script, framed by the QA page.
RECORD_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_RECORD: Final = re.compile(r"^(?:/batch-records|/api/v1/batches)/[^/]+/record\.html$")
_DOCS: Final = frozenset({"/docs", "/redoc"})
_SCRIPT: Final = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)
_COMMON: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
_REPLACED: Final = frozenset(
    {b"content-security-policy", b"x-frame-options", *(name for name, _ in _COMMON)}
)
#: Where :class:`BrowserPolicy` leaves the response's nonce in the request's scope, for
#: :class:`PageNonces`.
NONCE_KEY: Final = "phactory.csp_nonce"


class BrowserPolicy:
    """ASGI middleware adding the security headers, with a nonce per response for
    :class:`PageNonces` (see the module).

    Parameters
    ----------
    app
        The application behind it.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope[NONCE_KEY] = nonce
        path = str(scope.get("path", ""))
        https = scope.get("scheme") == "https"

        async def guarded(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                policy, frames = _policy(path, _is_page(headers), nonce)
                kept = [(k, v) for k, v in headers if k.lower() not in _REPLACED]
                kept += [
                    (b"content-security-policy", policy.encode()),
                    (b"x-frame-options", frames),
                    *_COMMON,
                ]
                if https:
                    kept.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": kept}
            await send(message)

        await self.app(scope, receive, guarded)


class PageNonces:
    """ASGI middleware of NiceGUI's application: the nonce of :class:`BrowserPolicy` on
    every ``<script`` tag of a page answer (see the module).

    Added before NiceGUI's compression middleware, so that it runs inside it and rewrites
    the page uncompressed. A page is one HTML body, which is kept until it is complete;
    every other answer passes as it comes.

    Parameters
    ----------
    app
        NiceGUI's application behind it.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        nonce = scope.get(NONCE_KEY) if scope["type"] == "http" else None
        if nonce is None:  # not behind a BrowserPolicy: no policy to satisfy
            await self.app(scope, receive, send)
            return
        tag = f'<script nonce="{nonce}"'.encode()
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: Any) -> None:
            if message["type"] == "http.response.start" and _is_page(
                list(message.get("headers") or [])
            ):
                start.update(message)
                return
            if not start or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = _SCRIPT.sub(tag, b"".join(chunks))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


def _is_page(headers: list[tuple[bytes, bytes]]) -> bool:
    found = {k.lower(): v for k, v in headers}
    return found.get(b"x-nicegui-content") == b"page" and found.get(
        b"content-type", b""
    ).startswith(b"text/html")


def _policy(path: str, page: bool, nonce: str) -> tuple[str, bytes]:
    if page:
        return PAGE_POLICY.format(nonce=nonce), b"DENY"
    if path in _DOCS:
        return DOCS_POLICY, b"DENY"
    if _RECORD.match(path):
        return RECORD_POLICY, b"SAMEORIGIN"
    return API_POLICY, b"DENY"
