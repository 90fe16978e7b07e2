"""Sites: content-hashed versions, de-duplication, loading any version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from phactory.model import Site
from phactory.store import NotFound, Store, StoreError, site_content_hash
from phactory.store.schema import SiteVersionRow


def test_first_save_is_version_1(store: Store, site: Site) -> None:
    version = store.save_site(site)
    assert (version.site_id, version.version, version.created_by) == ("tiny", 1, "tester")
    assert version.created_at.tzinfo is UTC
    assert abs(datetime.now(UTC) - version.created_at) < timedelta(minutes=1)
    assert store.get_site("tiny") == site


def test_content_hash_is_sha256_of_canonical_json(store: Store, site: Site) -> None:
    document = site.model_dump(mode="json", by_alias=True)
    # sections added to the model later are left out while unset (hashes stay as stored)
    assert document.pop("control") is None
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert site_content_hash(site) == expected
    assert store.save_site(site).content_hash == expected


def test_saving_identical_content_returns_the_existing_version(
    store: Store, make_site: Callable[..., Site]
) -> None:
    first = store.save_site(make_site())
    # Same content written differently: skills as a mapping instead of a list.
    again = store.save_site(make_site(skills={"op": {}}), created_by="someone else")
    assert again == first
    assert store.site_versions("tiny") == [first]


def test_new_content_gets_the_next_version(store: Store, make_site: Callable[..., Site]) -> None:
    v1 = store.save_site(make_site())
    v2 = store.save_site(make_site(name="Tiny plant"))
    assert (v1.version, v2.version) == (1, 2)
    assert v2.content_hash != v1.content_hash
    assert v2.name == "Tiny plant"
    assert store.get_site("tiny").name == "Tiny plant"
    assert store.get_site("tiny", version=1) == make_site()
    assert store.get_site_version("tiny") == v2
    assert store.site_versions("tiny") == [v1, v2]


def test_returning_to_older_content_makes_it_the_latest(
    store: Store, make_site: Callable[..., Site]
) -> None:
    v1 = store.save_site(make_site())
    store.save_site(make_site(name="B"))
    v3 = store.save_site(make_site())
    assert v3.version == 3
    assert v3.content_hash == v1.content_hash
    assert store.get_site("tiny") == make_site()


def test_list_sites_gives_the_latest_version_of_each(
    store: Store, make_site: Callable[..., Site]
) -> None:
    assert store.list_sites() == []
    store.save_site(make_site(id="b"))
    store.save_site(make_site(id="a"))
    a2 = store.save_site(make_site(id="a", name="A2"))
    listed = store.list_sites()
    assert [(v.site_id, v.version) for v in listed] == [("a", 2), ("b", 1)]
    assert listed[0] == a2


def test_unknown_site_or_version_is_not_found(store: Store, site: Site) -> None:
    with pytest.raises(NotFound, match="site nowhere not found"):
        store.get_site("nowhere")
    with pytest.raises(NotFound, match="site nowhere not found"):
        store.site_versions("nowhere")
    store.save_site(site)
    with pytest.raises(NotFound, match="site version tiny v7 not found") as info:
        store.get_site("tiny", version=7)
    assert isinstance(info.value, LookupError)
    assert (info.value.kind, info.value.key) == ("site version", "tiny v7")


def test_content_that_no_longer_validates_is_a_clear_error(store: Store, site: Site) -> None:
    store.save_site(site)
    with store.engine.begin() as conn:
        conn.execute(update(SiteVersionRow).values(content={"id": "tiny", "bogus": 1}))
    with pytest.raises(StoreError, match=r"site tiny v1 .* does not validate"):
        store.get_site("tiny")


def test_concurrent_saves_number_versions_without_gaps(
    store: Store, make_site: Callable[..., Site]
) -> None:
    sites = [make_site(name=f"variant {i}") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(store.save_site, sites))
    assert sorted(v.version for v in versions) == list(range(1, 9))
    assert [v.version for v in store.site_versions("tiny")] == list(range(1, 9))
