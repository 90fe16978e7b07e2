"""Fixtures shared by the record and batch tests: databases on both backends, people, sites.

Imported by ``tests/records/conftest.py`` and ``tests/batch/conftest.py``. As in
``tests/store/conftest.py``, PostgreSQL comes from ``PHACTORY_TEST_POSTGRES_URL``
(default: the local server, user ``postgres``); the session creates its own database and
each test gets an empty schema in it, dropped afterwards (``DROP`` is not blocked by the
audit triggers, which refuse ``UPDATE``, ``DELETE`` and ``TRUNCATE``). Without a server
the PostgreSQL cases are skipped with the reason.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from phactory.model import Site, load_site
from phactory.records import RecordService, UserSession, default_hasher
from phactory.store import mask_url

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
DATA = Path(__file__).resolve().parents[1] / "data"

#: user id -> (printed name, role, skills, password)
PEOPLE: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "admin": ("Ada Admin", "admin", (), "admin-pass-1"),
    "sup": ("Sam Supervisor", "supervisor", ("op",), "sup-pass-1"),
    "op1": ("Olive Operator", "operator", ("op", "material-handler"), "op1-pass-1"),
    "op2": ("Otto Operator", "operator", ("op", "material-handler"), "op2-pass-1"),
    "qa": ("Quinn Quality", "qa", (), "qa-pass-1"),
    "qp": ("Pat Qualified-Person", "qp", (), "qp-pass-1"),
}


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def ebr_postgres() -> Iterator[URL]:
    """A fresh ``phactory_ebr_<random>`` database for the session, or a skip with the reason."""
    raw = os.environ.get("PHACTORY_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    admin = make_url(raw)
    name = f"phactory_ebr_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(_conninfo(admin), autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable at {mask_url(raw)}: {exc}".strip())
    yield admin.set(database=name)
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a new, empty database on the backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ebr.db'}"
        return
    base: URL = request.getfixturevalue("ebr_postgres")
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(_conninfo(base), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with psycopg.connect(_conninfo(base), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@dataclass
class World:
    """A record service with one account per role, and their sessions."""

    records: RecordService
    url: str
    sessions: dict[str, UserSession] = field(default_factory=dict)

    def password(self, user_id: str) -> str:
        """The password of a test account."""
        return PEOPLE[user_id][3]

    def login(self, user_id: str) -> UserSession:
        """A new session of a test account."""
        return self.records.accounts.login(user_id, self.password(user_id))

    def __getitem__(self, user_id: str) -> UserSession:
        if user_id not in self.sessions:
            self.sessions[user_id] = self.login(user_id)
        return self.sessions[user_id]


def make_world(
    url: str,
    *,
    group_commit: bool | None = None,
    clock: Callable[[], datetime] | None = None,
) -> World:
    """Open a record service on ``url`` and create the test accounts.

    ``group_commit`` defaults to ``PHACTORY_TEST_GROUP_COMMIT=1`` in the environment, so
    that the whole suite can be run with every write going through group commit.
    ``clock``: the record service's clock (default the system clock).
    """
    if group_commit is None:
        group_commit = os.environ.get("PHACTORY_TEST_GROUP_COMMIT") == "1"
    records = RecordService(
        url, hasher=default_hasher(fast=True), group_commit=group_commit, clock=clock
    )
    name, _, _, password = PEOPLE["admin"]
    records.accounts.bootstrap_admin("admin", name, password)
    world = World(records, url)
    for user_id, (name, role, skills, password) in PEOPLE.items():
        if user_id != "admin":
            records.accounts.create_user(
                world["admin"], user_id, name, role, password, skills=skills
            )
    return world


@pytest.fixture(params=["commit-each", "group-commit"])
def world(db_url: str, request: pytest.FixtureRequest) -> Iterator[World]:
    """A record service with people, on each backend, writing with a commit per
    transaction and with group commit (``RecordService(group_commit=True)``)."""
    group = request.param == "group-commit" or None
    w = make_world(db_url, group_commit=group)
    try:
        yield w
    finally:
        w.records.close()


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    """A record service with people, on a SQLite file only."""
    w = make_world(f"sqlite:///{tmp_path / 'ebr.db'}")
    try:
        yield w
    finally:
        w.records.close()


FILL = "mix/main/fill"


def tiny_site(**lots: dict[str, Any]) -> Site:
    """tests/data/tiny-site.yaml, with released and quarantined water lots (more by keyword),
    and a critical parameter on the manual ``fill`` phase (so it needs a verifier)."""
    data = load_site(DATA / "tiny-site.yaml").to_data()
    data["lots"] = {
        "W-001": {"material": "water", "quantity": "1000 L", "status": "released"},
        "W-Q01": {"material": "water", "quantity": "1000 L", "status": "quarantine"},
        **lots,
    }
    fill = data["recipes"]["r1"]["unit_procedures"]["mix"]["operations"]["main"]["phases"]["fill"]
    fill["parameters"] = {
        "temperature": {
            "setpoint": "20 degC",
            "low": "15 degC",
            "high": "25 degC",
            "critical": True,
        }
    }
    stir = data["recipes"]["r1"]["unit_procedures"]["mix"]["operations"]["main"]["phases"]["stir"]
    stir["parameters"] = {
        "temperature": {"setpoint": "20 degC", "low": "15 degC", "high": "25 degC"}
    }
    return Site.model_validate(data)


def started_batch(world: World, site: Site | None = None, **kwargs: Any) -> tuple[Any, str]:
    """A tiny batch created and started, run up to its manual ``fill`` step."""
    from phactory.batch import BatchEngine

    engine = BatchEngine(world.records, time_scale=math.inf, tick_s=0.001)
    info = engine.lifecycle.create_batch(world["sup"], site or tiny_site(), "r1", **kwargs)
    engine.lifecycle.command(world["sup"], info.batch_id, "Start")
    engine.runner.run(info.batch_id)
    return engine, info.batch_id


def perform_fill(
    engine: Any, world: World, batch_id: str, *, temperature: float = 20.0, verify: bool = True
) -> None:
    """Do the ``fill`` work instruction: check, scan, enter, sign (and verify)."""
    engine.manual.check_equipment(world["op1"], batch_id, FILL, "T1")
    engine.manual.scan_material(world["op1"], batch_id, FILL, "W-001")
    engine.manual.enter(world["op1"], batch_id, FILL, "temperature", temperature)
    engine.signing.sign_step(
        world["op1"],
        batch_id,
        FILL,
        "performed",
        password=world.password("op1"),
        user_id=None if world["op1"].signed else "op1",
    )
    if verify:
        engine.signing.sign_step(
            world["op2"],
            batch_id,
            FILL,
            "verified",
            password=world.password("op2"),
            user_id=None if world["op2"].signed else "op2",
        )


def completed_batch(world: World, **kwargs: Any) -> tuple[Any, str]:
    """A tiny batch run to Complete."""
    engine, batch_id = started_batch(world, **kwargs)
    perform_fill(engine, world, batch_id)
    status = engine.runner.run(batch_id, timeout_s=30)
    assert status.batch.state == "Complete", status
    return engine, batch_id


def cart_site() -> Site:
    """A small autologous site: receive apheresis, select cells, fill; one patient order."""
    return Site.model_validate(
        {
            "id": "cart-mini",
            "skills": ["op"],
            "equipment_classes": {"bench": {}, "bioreactor": {}},
            "areas": {
                "a": {
                    "process_cells": {
                        "c": {
                            "units": {
                                "B1": {"class": "bench"},
                                "R1": {"class": "bioreactor"},
                            }
                        }
                    }
                }
            },
            "materials": {
                "apheresis": {"kind": "starting", "unit": "bag"},
                "medium": {"unit": "L"},
                "cells": {"kind": "product", "unit": "bag"},
            },
            "products": {"car": {"recipe": "car-r", "autologous": True}},
            "lots": {
                "MED-1": {"material": "medium", "quantity": "100 L", "status": "released"},
            },
            "recipes": {
                "car-r": {
                    "product": "car",
                    "status": "approved",
                    "batch_size": "1 bag",
                    "unit_procedures": {
                        "receipt": {
                            "equipment_class": "bench",
                            "operations": {
                                "check-in": {
                                    "phases": {
                                        "verify-identity": {
                                            "duration": "30 min",
                                            "labour": [{"skill": "op", "count": 1}],
                                            "inputs": [
                                                {"material": "apheresis", "quantity": "1 bag"}
                                            ],
                                            "parameters": {
                                                "temperature": {
                                                    "setpoint": "5 degC",
                                                    "low": "2 degC",
                                                    "high": "8 degC",
                                                    "critical": True,
                                                }
                                            },
                                        }
                                    }
                                }
                            },
                        },
                        "expand": {
                            "equipment_class": "bioreactor",
                            "after": [{"procedure": "receipt", "max_lag": "24 h"}],
                            "operations": {
                                "culture": {
                                    "phases": {
                                        "grow": {
                                            "duration": "2 h",
                                            "inputs": [{"material": "medium", "quantity": "1 L"}],
                                            "outputs": [{"material": "cells", "quantity": "1 bag"}],
                                            "parameters": {
                                                "temperature": {
                                                    "setpoint": "37 degC",
                                                    "low": "36 degC",
                                                    "high": "38 degC",
                                                }
                                            },
                                        }
                                    }
                                }
                            },
                        },
                    },
                }
            },
            "plan": {
                "start": "2027-01-04",
                "horizon": "30 d",
                "orders": [
                    {"id": "PAT-A-ORDER", "product": "car", "batches": 1, "patient": "PAT-A"},
                    {"id": "PAT-B-ORDER", "product": "car", "batches": 1, "patient": "PAT-B"},
                ],
            },
        }
    )


def flow_site(feed: str = "1000 L") -> Site:
    """A small mAb-like site with one unit per class: a manual inoculation and an automatic
    culture on the bioreactor, then harvest (which makes harvested fluid, ``hccf``) and
    capture (which uses it) on the one skid. ``feed``: the quantity of the released feed lot.
    """
    return Site.model_validate(
        {
            "id": "flow",
            "skills": ["op"],
            "equipment_classes": {"bioreactor": {}, "skid": {}},
            "areas": {
                "a": {
                    "process_cells": {
                        "c": {"units": {"BR1": {"class": "bioreactor"}, "SK1": {"class": "skid"}}}
                    }
                }
            },
            "materials": {
                "feed": {"unit": "L"},
                "hccf": {"kind": "intermediate", "unit": "L"},
                "bulk": {"kind": "product", "unit": "L"},
            },
            "products": {"mab": {"recipe": "mab-r"}},
            "lots": {"FEED-1": {"material": "feed", "quantity": feed, "status": "released"}},
            "recipes": {
                "mab-r": {
                    "product": "mab",
                    "status": "approved",
                    "batch_size": "2000 L",
                    "unit_procedures": {
                        "production": {
                            "equipment_class": "bioreactor",
                            "operations": {
                                "culture": {
                                    "phases": {
                                        "inoculate": {
                                            "duration": "30 min",
                                            "labour": [{"skill": "op", "count": 1}],
                                        },
                                        "grow": {
                                            "duration": "2 h",
                                            "inputs": [{"material": "feed", "quantity": "300 L"}],
                                        },
                                    }
                                }
                            },
                        },
                        "harvest": {
                            "equipment_class": "skid",
                            "after": ["production"],
                            "operations": {
                                "clarify": {
                                    "phases": {
                                        "clarify": {
                                            "duration": "1 h",
                                            "outputs": [{"material": "hccf", "quantity": "1900 L"}],
                                        }
                                    }
                                }
                            },
                        },
                        "capture": {
                            "equipment_class": "skid",
                            "after": ["harvest"],
                            "operations": {
                                "load": {
                                    "phases": {
                                        "load": {
                                            "duration": "1 h",
                                            "inputs": [{"material": "hccf", "quantity": "1900 L"}],
                                            "outputs": [{"material": "bulk", "quantity": "100 L"}],
                                        }
                                    }
                                }
                            },
                        },
                    },
                }
            },
            "plan": {
                "start": "2027-01-04",
                "horizon": "30 d",
                "orders": [{"id": "O1", "product": "mab", "batches": 2}],
            },
        }
    )


def operator(world: World) -> Any:
    """A simulated operator acting as op1 (and op2 verifying)."""
    from phactory.batch import SimulatedOperator

    return SimulatedOperator(
        world["op1"], world.password("op1"), world["op2"], world.password("op2")
    )
