"""Stored sites: versions identified by the hash of their content.

A site is saved as a new version only if its content changed (the SHA-256 of its
canonical JSON, :func:`phactory.store.site_content_hash`); the latest version is always
what was saved last. Listings read no content (:data:`~phactory.store.reads.SITE_METADATA`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phactory.store.database import Database, now, serialise
from phactory.store.documents import site_content_hash, site_document
from phactory.store.errors import NotFound, StoreError
from phactory.store.reads import SITE_METADATA, site_version_record
from phactory.store.records import SiteVersion
from phactory.store.schema import SiteVersionRow

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["Sites"]

_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")

#: Attempts at saving a version when another writer took its number meanwhile.
_SAVE_ATTEMPTS: Final = 5


def _version(stmt: _S, version: int | None) -> _S:
    """``stmt`` narrowed to one version of a site: ``version``, else the latest."""
    if version is None:
        return stmt.order_by(SiteVersionRow.version.desc()).limit(1)
    return stmt.where(SiteVersionRow.version == version)


def _not_found(site_id: str, version: int | None) -> NotFound:
    if version is None:
        return NotFound("site", site_id)
    return NotFound("site version", f"{site_id} v{version}")


class Sites:
    """The site versions of a store (see :class:`phactory.store.Store` for each method).

    Parameters
    ----------
    db
        The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def save_site(self, site: Site, *, created_by: str | None = None) -> SiteVersion:
        """See :meth:`phactory.store.Store.save_site`."""
        digest = site_content_hash(site)
        document = site_document(site)
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self.db.session(write=True) as s:
                    serialise(s, f"site:{site.id}")
                    latest = s.scalar(
                        select(SiteVersionRow)
                        .where(SiteVersionRow.site_id == site.id)
                        .order_by(SiteVersionRow.version.desc())
                        .limit(1)
                    )
                    if latest is not None and latest.content_hash == digest:
                        return site_version_record(latest)
                    row = SiteVersionRow(
                        site_id=site.id,
                        version=1 if latest is None else latest.version + 1,
                        name=site.name,
                        content_hash=digest,
                        content=document,
                        created_at=now(),
                        created_by=self.db.creator(created_by),
                    )
                    s.add(row)
                    s.flush()
                    return site_version_record(row)
            except StoreError as exc:
                # Another writer saved a version of this site between our read and write
                # (cannot happen on SQLite or PostgreSQL, which serialise; kept for others).
                if not isinstance(exc.__cause__, IntegrityError) or attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def site_row(self, s: Session, site_id: str, version: int | None) -> SiteVersionRow:
        """The row of a site version (default the latest) in session ``s``.

        Raises
        ------
        NotFound
            If there is no such site or version.
        """
        stmt = select(SiteVersionRow).where(SiteVersionRow.site_id == site_id)
        row: SiteVersionRow | None = s.scalar(_version(stmt, version))
        if row is None:
            raise _not_found(site_id, version)
        return row

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        """See :meth:`phactory.store.Store.get_site`."""
        from phactory.model import Site

        with self.db.session() as s:
            row = self.site_row(s, site_id, version)
            content, found = row.content, row.version
        try:
            return Site.model_validate(content)
        except ValidationError as exc:
            raise StoreError(
                f"site {site_id} v{found} in {self.db.url} does not validate with this "
                f"version of Phactory: {exc}"
            ) from exc

    def get_site_version(self, site_id: str, version: int | None = None) -> SiteVersion:
        """See :meth:`phactory.store.Store.get_site_version`."""
        stmt = _version(SITE_METADATA.where(SiteVersionRow.site_id == site_id), version)
        with self.db.reading() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise _not_found(site_id, version)
        return site_version_record(row)

    def list_sites(self) -> list[SiteVersion]:
        """See :meth:`phactory.store.Store.list_sites`."""
        latest = (
            select(SiteVersionRow.site_id, func.max(SiteVersionRow.version).label("version"))
            .group_by(SiteVersionRow.site_id)
            .subquery()
        )
        stmt = SITE_METADATA.join(
            latest,
            (SiteVersionRow.site_id == latest.c.site_id)
            & (SiteVersionRow.version == latest.c.version),
        ).order_by(SiteVersionRow.site_id)
        with self.db.reading() as conn:
            return [site_version_record(row) for row in conn.execute(stmt)]

    def site_versions(self, site_id: str) -> list[SiteVersion]:
        """See :meth:`phactory.store.Store.site_versions`."""
        stmt = SITE_METADATA.where(SiteVersionRow.site_id == site_id).order_by(
            SiteVersionRow.version
        )
        with self.db.reading() as conn:
            rows = [site_version_record(row) for row in conn.execute(stmt)]
        if not rows:
            raise NotFound("site", site_id)
        return rows
