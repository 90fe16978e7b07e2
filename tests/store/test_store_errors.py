"""Settings and the errors a user sees for unusable databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from phactory.model import Site
from phactory.store import NotFound, Store, StoreError, StoreSettings, data_dir, mask_url


def test_unreachable_postgres_names_the_url_without_password() -> None:
    url = "postgresql+psycopg://bob:s3cret@127.0.0.1:1/phactory"
    with pytest.raises(StoreError) as info:
        Store(url)
    message = str(info.value)
    assert "cannot connect to database postgresql+psycopg://bob:***@127.0.0.1:1/phactory" in (
        message
    )
    assert "s3cret" not in message
    assert "refused" in message.lower() or "failed" in message.lower()


def test_unopenable_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'folder' / 'x.db'}"
    with pytest.raises(StoreError, match=r"cannot connect to database sqlite:///.*x\.db: .*open"):
        Store(url)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid database URL not a url"),
        ("nosuchdb://u:pw@host/db", r"cannot use database URL nosuchdb://u:\*\*\*@host/db"),
    ],
)
def test_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        Store(url)


def test_not_found_is_a_lookup_error_naming_the_key() -> None:
    error = NotFound("site", "tiny")
    assert isinstance(error, StoreError) and isinstance(error, LookupError)
    assert str(error) == "site tiny not found in the store"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://u:p%40ss@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
        ("postgresql+psycopg://postgres@127.0.0.1/d", "postgresql+psycopg://postgres@127.0.0.1/d"),
        ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
        ("not a url //u:secret@h/d", "not a url //u:***@h/d"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_settings_from_env(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = StoreSettings.from_env({"PHACTORY_HOME": str(home)})
    assert settings.database_url == f"sqlite:///{home / 'phactory.db'}"
    assert settings.create_folder and not settings.echo
    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/phactory"
    explicit = StoreSettings.from_env(
        {"PHACTORY_HOME": str(home), "PHACTORY_DATABASE_URL": pg, "PHACTORY_DATABASE_ECHO": "1"}
    )
    assert explicit == StoreSettings(database_url=pg, echo=True)
    assert data_dir({"HOME": "/ignored"}) == Path.home() / ".local" / "share" / "phactory"
    assert data_dir({"PHACTORY_HOME": " "}) == Path.home() / ".local" / "share" / "phactory"


def test_default_store_is_a_sqlite_file_in_phactory_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: Site
) -> None:
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("PHACTORY_DATABASE_URL", raising=False)
    with Store() as store:
        store.save_site(site)
        assert store.url == f"sqlite:///{tmp_path / 'data' / 'phactory.db'}"
    assert (tmp_path / "data" / "phactory.db").is_file()
    with Store() as again:
        assert again.get_site("tiny") == site


def test_in_memory_store(site: Site) -> None:
    with Store("sqlite://") as store:
        store.save_site(site)
        assert store.get_site("tiny") == site
        assert repr(store) == "Store('sqlite://')"
