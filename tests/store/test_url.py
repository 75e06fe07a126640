"""Choosing the store by URL, and printing URLs without their passwords."""

from __future__ import annotations

import string
from pathlib import Path
from urllib.parse import quote

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.config import load_settings
from controlplane.store import (
    PostgresStore,
    SQLiteStore,
    StoreError,
    StoreSettings,
    open_store,
    redact_url,
    store_url,
)
from controlplane.store._url import parse_url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://cp:hunter2@db:5432/fleet", "postgresql://cp:***@db:5432/fleet"),
        ("postgres://cp:hunter2@db/fleet", "postgres://cp:***@db/fleet"),
        ("postgresql://cp@db:5432/fleet?sslmode=require", "postgresql://cp@db:5432/fleet?sslmode=require"),
        (
            "postgresql://cp@db/fleet?password=hunter2&sslmode=require",
            "postgresql://cp@db/fleet?password=***&sslmode=require",
        ),
        ("postgresql://cp:p%40ss@[::1]:5432/fleet", "postgresql://cp:***@[::1]:5432/fleet"),
        ("postgresql://cp:hunter2@h1:5432,h2:5433/fleet", "postgresql://cp:***@h1:5432,h2:5433/fleet"),
        ("postgresql:///fleet", "postgresql:///fleet"),
        ("sqlite:///data/controlplane.db", "sqlite:///data/controlplane.db"),
        ("sqlite:////var/lib/cp/controlplane.db", "sqlite:////var/lib/cp/controlplane.db"),
    ],
)
def test_redaction(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@given(st.text(alphabet=string.printable, min_size=1, max_size=40))
def test_a_password_never_survives_redaction(password: str) -> None:
    quoted = quote(password, safe="")
    assert (
        redact_url(f"postgresql://cp:{quoted}@db.internal:5432/fleet")
        == "postgresql://cp:***@db.internal:5432/fleet"
    )
    assert redact_url(f"postgresql://cp@db/f?password={quoted}") == "postgresql://cp@db/f?password=***"


def test_parse_picks_the_backend_and_keeps_sqlite_paths_as_written() -> None:
    relative = parse_url("sqlite:///data/controlplane.db")
    assert (relative.backend, relative.target) == ("sqlite", "data/controlplane.db")
    absolute = parse_url("sqlite:////var/lib/cp/controlplane.db")
    assert absolute.target == "/var/lib/cp/controlplane.db"
    pg = parse_url("postgresql://cp:hunter2@db/fleet")
    assert (pg.backend, pg.redacted) == ("postgresql", "postgresql://cp:***@db/fleet")
    assert "hunter2" not in repr(pg)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://cp:hunter2@db/fleet", "must start with sqlite:/// or postgresql://"),
        ("sqlite://data.db", "three slashes"),
        ("sqlite:///", "needs a file path"),
        ("postgresql:cp:hunter2@db", "is not postgresql://USER@HOST:PORT/DB"),
        ("/var/lib/cp.db", "must start with"),
    ],
)
def test_a_bad_url_is_a_clear_error_without_the_password(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        parse_url(url)
    assert "hunter2" not in str(info.value)


def test_open_store_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = open_store("", data_dir=tmp_path)
    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "controlplane.db"
    assert store.secret_key_file == tmp_path / "secret.key"
    assert store_url(StoreSettings(), tmp_path) == f"sqlite:///{tmp_path}/controlplane.db"
    assert store_url(StoreSettings(url="postgresql://db/f"), tmp_path) == "postgresql://db/f"


def test_open_store_follows_the_url_and_the_key_setting(tmp_path: Path) -> None:
    other = open_store(f"sqlite:///{tmp_path}/elsewhere.db", data_dir=tmp_path / "data")
    assert isinstance(other, SQLiteStore) and other.path == tmp_path / "elsewhere.db"
    assert other.secret_key_file == tmp_path / "data" / "secret.key"
    settings = StoreSettings(secret_key_file=str(tmp_path / "k"), pool_size=4)
    pg = open_store("postgresql://cp:hunter2@127.0.0.1:5432/fleet", settings, data_dir=tmp_path, shards=16)
    assert isinstance(pg, PostgresStore)
    assert (pg.url, pg.secret_key_file, pg.shards) == (
        "postgresql://cp:***@127.0.0.1:5432/fleet",
        tmp_path / "k",
        16,
    )
    with pytest.raises(StoreError, match="must start with"):
        open_store("redis://x", data_dir=tmp_path)


def test_settings_refuse_a_foreign_url_naming_the_field_not_the_password() -> None:
    with pytest.raises(msgspec.ValidationError, match="url must start with") as info:
        msgspec.convert({"url": "mysql://cp:hunter2@db/fleet"}, StoreSettings)
    assert "hunter2" not in str(info.value)
    with pytest.raises(msgspec.ValidationError, match="pool_size"):
        msgspec.convert({"pool_size": 1}, StoreSettings)
    with pytest.raises(msgspec.ValidationError, match="sqlite_readers must be at least 1"):
        msgspec.convert({"sqlite_readers": 0}, StoreSettings)


def test_the_environment_sets_the_store_url_and_key_file(tmp_path: Path) -> None:
    env = {
        "CONTROLPLANE_STORE_URL": "postgresql://cp@db:5432/fleet",
        "CONTROLPLANE_STORE_SECRET_KEY_FILE": "/etc/controlplane/secret.key",
    }
    settings = load_settings(None, env=env)
    store = msgspec.convert(settings.store, StoreSettings)
    assert (store.url, store.secret_key_file) == (
        "postgresql://cp@db:5432/fleet",
        "/etc/controlplane/secret.key",
    )
    flags = load_settings(None, env=env, overrides={"store": {"url": "sqlite:///x.db"}})
    assert flags.store["url"] == "sqlite:///x.db"  # a flag beats the environment
    file = tmp_path / "c.toml"
    file.write_text('[store]\nurl = "sqlite:///from-file.db"\nmax_batch = 10\nmax_pending = 10\n')
    from_file = load_settings(file, env=env)
    assert from_file.store["url"] == "postgresql://cp@db:5432/fleet"  # the environment beats the file
    assert from_file.store["max_batch"] == 10
    # Only where the store is and its key come from the environment, not the tuning knobs.
    assert load_settings(None, env={"CONTROLPLANE_STORE_MAX_BATCH": "1"}).store == {}
