"""What other components get from the store instead of its tables: light reads of sites
and runs, one transaction shared with their own tables, and stable content hashes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from phactory.model import Site
from phactory.store import NotFound, Store, StoreError, site_content_hash

#: A table of another component in the same database (as the web app's change log).
_META = MetaData()
PROBE = Table(
    "test_store_probe",
    _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("what", String(200), nullable=False),
)


@pytest.fixture
def probe(store: Store) -> Iterator[Table]:
    _META.create_all(store.engine)
    try:
        yield PROBE
    finally:
        _META.drop_all(store.engine)


def _probes(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [str(r.what) for r in conn.execute(select(PROBE.c.what).order_by(PROBE.c.id))]


def test_a_store_change_and_the_callers_row_commit_together(
    store: Store, site: Site, probe: Table
) -> None:
    with store.transaction() as (tx, conn):
        version = tx.save_site(site)
        # Reads in the transaction see its own uncommitted writes.
        assert tx.get_site_version("tiny") == version
        conn.execute(insert(probe).values(what=f"saved v{version.version}"))
    assert store.get_site_version("tiny") == version
    assert _probes(store) == ["saved v1"]


def test_they_roll_back_together_when_the_caller_fails(
    store: Store, site: Site, probe: Table
) -> None:
    with (
        pytest.raises(RuntimeError, match="after the change"),
        store.transaction() as (tx, conn),
    ):
        tx.save_site(site)
        conn.execute(insert(probe).values(what="saved"))
        raise RuntimeError("after the change")
    assert store.list_sites() == [] and _probes(store) == []


def test_they_roll_back_together_when_a_store_method_refuses(
    store: Store, site: Site, probe: Table
) -> None:
    with (
        pytest.raises(NotFound, match="site nowhere not found"),
        store.transaction() as (tx, conn),
    ):
        tx.save_site(site)
        conn.execute(insert(probe).values(what="saved"))
        tx.create_run("simulate", site_id="nowhere")
    assert store.list_sites() == [] and _probes(store) == []


def test_the_store_itself_is_not_bound_to_a_transaction(store: Store, site: Site) -> None:
    with store.transaction() as (tx, _):
        assert tx is not store
    # The view's transaction ended; the store opens its own as before.
    assert store.save_site(site).version == 1
    assert store.get_site_version("tiny").version == 1


def test_light_reads_equal_the_full_records_without_their_documents(
    store: Store, site: Site
) -> None:
    store.save_site(site)
    second = store.save_site(site.model_copy(update={"name": "Tiny, renamed"}))
    assert store.get_site_version("tiny") == second
    assert store.get_site_version("tiny", 1).version == 1
    assert [v.version for v in store.site_versions("tiny")] == [1, 2]
    assert store.list_sites() == [second]
    with pytest.raises(NotFound, match="site version tiny v9 not found"):
        store.get_site_version("tiny", 9)
    with pytest.raises(NotFound, match="site other not found"):
        store.get_site_version("other")
    runs = []
    for kind in ("simulate", "schedule", "simulate"):
        run = store.create_run(kind, site_id="tiny", params={"days": 3})
        store.start_run(run.id)
        runs.append(store.finish_run(run.id, {"kpis": {"oee": 0.5}, "kind": kind}))
    light = store.get_run(runs[0].id, results=False)
    assert light.results is None and light == replace(runs[0], results=None)
    full = store.list_runs(kind="simulate")
    assert [r.id for r in full] == [runs[2].id, runs[0].id]
    assert store.list_runs(kind="simulate", results=False) == [
        replace(r, results=None) for r in full
    ]
    assert [r.id for r in store.list_runs(results=False, limit=1)] == [runs[2].id]
    assert store.list_runs(status="queued", results=False) == []
    with pytest.raises(NotFound, match="not found"):
        store.get_run("00000000-0000-0000-0000-000000000000", results=False)


def test_listings_do_not_read_site_contents(store: Store, site: Site) -> None:
    # The light reads select no content column: a content the model could not parse
    # (written by a newer version, say) does not stop them.
    store.save_site(site)
    with store.engine.begin() as conn:
        from phactory.store.schema import SiteVersionRow

        conn.execute(
            SiteVersionRow.__table__.update().values(content={"not": "a site"})  # type: ignore[attr-defined]
        )
        assert conn.execute(select(func.count()).select_from(SiteVersionRow)).scalar() == 1
    assert [v.site_id for v in store.list_sites()] == ["tiny"]
    assert store.get_site_version("tiny").content_hash == site_content_hash(site)
    with pytest.raises(StoreError, match="does not validate"):
        store.get_site("tiny")


def test_a_known_sites_content_hash_is_unchanged() -> None:
    """The hash text is phactory.jsonio's canonical JSON, the same bytes as before it
    moved there: sorted keys, no spaces, ASCII escapes, no NaN. These two hashes were
    computed by the store's own serialisation before the move; a change of the model's
    defaults would change them too (and every stored hash: a migration matter)."""
    tiny = Site.model_validate(
        {
            "id": "tiny",
            "skills": ["op"],
            "equipment_classes": {"tank": {}},
            "areas": {"a": {"process_cells": {"c": {"units": {"T1": {"class": "tank"}}}}}},
        }
    )
    assert (
        site_content_hash(tiny)
        == "be3ead4718b595d97cb8263618913d66e9e5da5aa42d33036d174571860639e8"
    )
    named = tiny.model_copy(update={"name": "Usine de Lyon – ligne β"})
    assert (
        site_content_hash(named)
        == "5bf47456a741d0ce6bfa97ac5b1ae933cb1008be7a0f55736708066783fc29e8"
    )


def test_the_facade_forwards_with_the_signatures_of_its_parts() -> None:
    # Store's methods repeat their part's signature (and carry the one docstring); a
    # default changed on one side only would make the two disagree silently.
    import inspect

    from phactory.store.runs import Runs
    from phactory.store.scenarios import Scenarios
    from phactory.store.sites import Sites

    methods = {
        f"{part.__name__}.{name}": method
        for part in (Sites, Scenarios, Runs)
        for name, method in vars(part).items()
        if callable(method) and not name.startswith("_") and name in vars(Store)
    }
    assert len(methods) == 16
    signatures = {
        key: (inspect.signature(method), inspect.signature(getattr(Store, key.split(".")[1])))
        for key, method in methods.items()
    }
    assert {k: v for k, v in signatures.items() if v[0] != v[1]} == {}
    # The part points at the facade's docstring instead of copying it.
    copied = {
        key
        for key, method in methods.items()
        if method.__doc__ != f"See :meth:`phactory.store.Store.{key.split('.')[1]}`."
    }
    assert copied == set()
