"""Batch execution, QA review and batch-record accounts: the electronic batch record in the
workspace.

Three pages, in the left navigation (:data:`phactory.app.ui.layout.NAV`) as *Batch
execution* (:mod:`.execution`, with the work instruction in :mod:`.work_instruction`),
*QA review* (:mod:`.review`) and *Batch-record accounts* (:mod:`.accounts`); the widgets
they share are in :mod:`.widgets`. Every page calls the application's
:class:`~phactory.app.services.batches.BatchService` (``ctx.batches``), the same service
as the REST routes under ``/api/v1/batches``, ``/lots`` and ``/records``.

Two identities are at work. The workspace login decides whether the browser may act at
all: viewers follow batches and read the records but never execute or sign. Who acts in
the batch record is a person of the record service (operator, supervisor, QA, QP),
identified at the workstation with user id and password; every signature asks for both
again (21 CFR 11.200(a)).

Nothing happens at import: :func:`register` adds the pages and the record downloads,
called once by :func:`phactory.app.ui.pages.register`.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from phactory.app.principal import SESSION_COOKIE, Principal
from phactory.app.ui.pages.batches.widgets import (
    PATH_ACCOUNTS,
    PATH_EXECUTION,
    PATH_REVIEW,
    record_url,
)
from phactory.errors import NotFoundError

__all__ = ["PATH_ACCOUNTS", "PATH_EXECUTION", "PATH_REVIEW", "register"]


def register() -> None:
    """Register the three pages and the record downloads (HTML, PDF, BatchML)."""
    from nicegui import app as nicegui_app

    from phactory.app.ui.layout import workspace_page
    from phactory.app.ui.pages.batches.accounts import batch_accounts_page
    from phactory.app.ui.pages.batches.execution import batch_execution_page
    from phactory.app.ui.pages.batches.review import qa_review_page

    workspace_page(PATH_EXECUTION, "Batch execution")(batch_execution_page)
    workspace_page(PATH_REVIEW, "QA review")(qa_review_page)
    workspace_page(PATH_ACCOUNTS, "Batch-record accounts")(batch_accounts_page)
    for what, endpoint in (
        ("record.html", record_html),
        ("record.pdf", record_pdf),
        ("batchml.xml", record_batchml),
    ):
        nicegui_app.add_api_route(
            f"/batch-records/{{batch_id}}/{what}",
            endpoint,
            methods=["GET"],
            include_in_schema=False,
        )


def _reader(request: Request) -> Principal | None:
    from phactory.app.ui import state

    cookie = request.cookies.get(SESSION_COOKIE)
    return state.ctx().accounts.resolve(cookie, kind="session") if cookie else None


def _not_found() -> Response:
    # The id is not echoed: whatever was asked for never comes back as markup.
    return PlainTextResponse("batch record not found", status_code=404)


def _download(request: Request, batch_id: str, what: str) -> Response:
    from phactory.app.api.batches import html_record
    from phactory.app.ui import state
    from phactory.model.ids import is_id

    user = _reader(request)
    if user is None:
        if what == "record.html":  # a browser opening the record: log in and come back
            target = quote(record_url(batch_id, what), safe="/")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        return PlainTextResponse("log in first", status_code=401)
    if not is_id(batch_id):
        return _not_found()
    ctx = state.ctx()
    try:
        if what == "record.html":
            return html_record(ctx, batch_id)
        if what == "record.pdf":
            content: bytes | str = ctx.batches.reviews.export_pdf(batch_id)
            media, name = "application/pdf", f"{batch_id}-record.pdf"
        else:
            content = ctx.batches.reviews.export_batchml(batch_id)
            media, name = "application/xml", f"{batch_id}-batchml.xml"
    except NotFoundError:
        return _not_found()
    # nosniff and the policy come from the browser policy, as for every answer.
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def record_html(batch_id: str, request: Request) -> Response:
    """The batch record as a self-contained HTML page (logged-in users; no script runs)."""
    return _download(request, batch_id, "record.html")


def record_pdf(batch_id: str, request: Request) -> Response:
    """The batch record as a PDF download (logged-in users)."""
    return _download(request, batch_id, "record.pdf")


def record_batchml(batch_id: str, request: Request) -> Response:
    """The batch record as BatchML (B2MML), as a download (logged-in users)."""
    return _download(request, batch_id, "batchml.xml")
