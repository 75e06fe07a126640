"""The shipped ``config/controlplane.toml`` documents every setting with its default, and loading rules."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from controlplane.aws import AwsSettings
from controlplane.aws._settings import SERVICES, ServiceLimits
from controlplane.cli import main
from controlplane.config import (
    AdminSettings,
    ConfigError,
    LifecycleSettings,
    ServiceSettings,
    Settings,
    SimSettingsSection,
    SyncSettings,
    load_settings,
)
from controlplane.store import StoreSettings

CONFIG = Path(__file__).resolve().parents[1] / "config" / "controlplane.toml"

SECTIONS: dict[str, type[msgspec.Struct]] = {
    "service": ServiceSettings,
    "admin": AdminSettings,
    "lifecycle": LifecycleSettings,
    "sync": SyncSettings,
    "sim": SimSettingsSection,
    "store": StoreSettings,
}

_HEADER = re.compile(r"^\[([a-z0-9_.]+)\]\s*$")
_ASSIGN = re.compile(r"^([a-z0-9_]+)\s*=")
_COMMENTED_ASSIGN = re.compile(r"^#\s*([a-z0-9_]+)\s*=\s*\S")


def _raw() -> dict[str, Any]:
    return tomllib.loads(CONFIG.read_text())


def _commented_keys() -> dict[str, set[str]]:
    """Commented-out ``# key = value`` lines per table: how a setting whose default is None (TOML has no
    null) is documented."""
    out: dict[str, set[str]] = {}
    table = ""
    for line in CONFIG.read_text().splitlines():
        header = _HEADER.match(line)
        if header:
            table = header.group(1)
            continue
        match = _COMMENTED_ASSIGN.match(line)
        if match:
            out.setdefault(table, set()).add(match.group(1))
    return out


def _check_struct_keys(table: str, struct: type[msgspec.Struct], raw: dict[str, Any]) -> None:
    """Every field with a non-None default is set in ``raw``; a None default is a commented-out line;
    nothing else is there."""
    default = struct()
    fields = {f.name for f in msgspec.structs.fields(struct)}
    none_fields = {name for name in fields if getattr(default, name) is None}
    assert set(raw) == fields - none_fields, f"[{table}] keys differ from {struct.__name__}'s fields"
    missing = none_fields - _commented_keys().get(table, set())
    assert not missing, f"[{table}] lacks a commented-out line for {sorted(missing)}"


# --- the shipped file -------------------------------------------------------------------------------


def test_file_loads_and_gives_every_default() -> None:
    settings = load_settings(CONFIG, env={})
    assert msgspec.structs.replace(settings, aws={}, store={}) == Settings()
    assert msgspec.convert(settings.aws, AwsSettings) == AwsSettings()
    assert msgspec.convert(settings.store, StoreSettings) == StoreSettings()


def test_top_level_tables_are_the_settings_fields() -> None:
    assert set(_raw()) == {f.name for f in msgspec.structs.fields(Settings)}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_field_of_a_section_is_in_the_file(section: str) -> None:
    _check_struct_keys(section, SECTIONS[section], _raw()[section])


def test_every_aws_field_is_in_the_file() -> None:
    aws = dict(_raw()["aws"])
    limits = aws.pop("limits")
    default_limits = aws.pop("default_limits")
    endpoint_urls = aws.pop("endpoint_urls")
    fields = {f.name for f in msgspec.structs.fields(AwsSettings)}
    none_fields = {n for n in fields if getattr(AwsSettings(), n) is None}
    assert set(aws) == fields - none_fields - {"limits", "default_limits", "endpoint_urls"}
    assert none_fields <= _commented_keys().get("aws", set())
    assert endpoint_urls == {}
    _check_struct_keys("aws.default_limits", ServiceLimits, default_limits)
    # Every service the adapter calls has its own limits table, with every field (none is None there).
    assert set(limits) == set(SERVICES) == set(AwsSettings().limits)
    fields_of_limits = {f.name for f in msgspec.structs.fields(ServiceLimits)}
    for service, table in limits.items():
        assert set(table) == fields_of_limits, f"[aws.limits.{service}]"


def test_every_setting_line_is_documented_by_a_comment() -> None:
    previous = ""
    for number, line in enumerate(CONFIG.read_text().splitlines(), 1):
        if _ASSIGN.match(line):
            assert previous.startswith("#"), f"line {number} ({line!r}) has no comment above it"
        if line.strip():
            previous = line.strip()


def test_the_checks_see_an_undocumented_field() -> None:
    # Guard against a vacuous key comparison: a missing line must be noticed.
    raw = _raw()["admin"]
    del raw["metrics_auth"]
    with pytest.raises(AssertionError):
        _check_struct_keys("admin", AdminSettings, raw)


# --- environment, overrides and errors ------------------------------------------------------------


def test_environment_overrides_the_file() -> None:
    env = {
        "CONTROLPLANE_ADMIN_LISTEN": "127.0.0.1:0",
        "CONTROLPLANE_TIME_SCALE": "0.01",
        "CONTROLPLANE_SIM_TIME_SCALE": "0.5",
        "CONTROLPLANE_LIFECYCLE_BACKOFF_SLOW_AFTER": "7",
        "CONTROLPLANE_ADMIN_METRICS_AUTH": "true",
    }
    settings = load_settings(CONFIG, env=env)
    assert settings.admin.listen == "127.0.0.1:0"
    assert settings.service.time_scale == 0.01
    assert settings.scaled(30.0) == pytest.approx(0.3)
    assert settings.sim.time_scale == 0.5
    assert settings.lifecycle.backoff_slow_after == 7
    assert settings.admin.metrics_auth is True
    # Untouched settings keep the file's values.
    assert settings.lifecycle.wait_interval == 30.0


def test_section_variable_of_time_scale_and_flags_win() -> None:
    env = {"CONTROLPLANE_SERVICE_TIME_SCALE": "0.2", "CONTROLPLANE_ADMIN_LISTEN": "127.0.0.1:9000"}
    settings = load_settings(CONFIG, env=env, overrides={"admin": {"listen": "127.0.0.1:9001"}})
    assert settings.service.time_scale == 0.2
    assert settings.admin.listen == "127.0.0.1:9001"


def test_file_values_beat_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[sync]\nrefresh_cron = "@every 30s"\n[store]\nmax_batch = 10\nmax_pending = 10\n')
    settings = load_settings(path, env={})
    assert settings.sync.refresh_cron == "@every 30s"
    assert settings.sync.initial_round_spread == 10.0
    assert msgspec.convert(settings.store, StoreSettings).max_batch == 10


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CONTROLPLANE_ADMIN_LISTEN": "localhost"}, "admin.listen"),
        ({"CONTROLPLANE_ADMIN_LISTEN": "127.0.0.1:70000"}, "admin.listen"),
        ({"CONTROLPLANE_TIME_SCALE": "fast"}, "service.time_scale"),
        ({"CONTROLPLANE_TIME_SCALE": "0"}, "service.time_scale"),
        ({"CONTROLPLANE_TIME_SCALE": "-1"}, "service.time_scale"),
        ({"CONTROLPLANE_TIME_SCALE": "nan"}, "service.time_scale"),
        ({"CONTROLPLANE_SERVICE_LOG_LEVEL": "loud"}, "service.log_level"),
        ({"CONTROLPLANE_LIFECYCLE_BACKOFF_SLOW_AFTER": "1.5"}, "lifecycle.backoff_slow_after"),
        ({"CONTROLPLANE_ADMIN_METRICS_AUTH": "maybe"}, "admin.metrics_auth"),
    ],
)
def test_bad_environment_value_names_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(CONFIG, env=env)


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[lifecycle]\nwait_intervall = 3\n")
    with pytest.raises(ConfigError, match="wait_intervall"):
        load_settings(path, env={})


def test_unreadable_or_invalid_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_settings(missing, env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[service\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[aws]\nmax_attempts = 0\n", "max_attempts"),
        ("[aws.limits.eks]\nrate = 1.0\nmax_in_flight = 64\n", "pool_size"),
        ("[store]\nflush_interval = 0\n", "flush_interval"),
        ("[store]\nflush_intervall = 1\n", "flush_intervall"),
    ],
)
def test_serve_refuses_bad_aws_or_store_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["serve", "--config", str(path)]) == 2
    assert named in capsys.readouterr().err


# --- the Grafana dashboard -------------------------------------------------------------------------

DASHBOARD = CONFIG.parent / "grafana-dashboard.json"
_METRIC = re.compile(r"\bcontrolplane_[a-z0-9_]+")

# What operators look at first; each must have a panel.
REQUIRED_METRICS = (
    "controlplane_clusters",
    "controlplane_reconcile_seconds_bucket",
    "controlplane_reconcile_errors_total",
    "controlplane_actor_mailbox_depth",
    "controlplane_actor_restarts_total",
    "controlplane_aws_requests_total",
    "controlplane_aws_request_seconds_bucket",
    "controlplane_aws_throttles_total",
    "controlplane_aws_retries_total",
    "controlplane_token_mints_total",
    "controlplane_token_cache_hits_total",
    "controlplane_probe_verdicts_total",
    "controlplane_sync_tick_lag_seconds_bucket",
    "controlplane_sync_round_seconds_bucket",
    "controlplane_sync_ticks_total",
    "controlplane_store_flush_seconds_bucket",
    "controlplane_store_batch_size_bucket",
    "controlplane_admin_requests_total",
    "controlplane_admin_request_seconds_bucket",
)


def _exposed_names() -> set[str]:
    """Series names the registry exposes (what PromQL can select), by metric type."""
    from controlplane.metrics import REGISTRY  # noqa: PLC0415 - only the dashboard tests need it

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = msgspec.json.decode(DASHBOARD.read_bytes())
    return data


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels") or [])  # collapsed rows nest their panels
    return out


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in _panels(dashboard) for t in p.get("targets") or []]
    for variable in dashboard["templating"]["list"]:
        if variable.get("definition"):
            exprs.append(variable["definition"])
    return exprs


def _balanced(expr: str) -> bool:
    pairs = {")": "(", "}": "{", "]": "["}
    stack: list[str] = []
    in_string = False
    for ch in expr:
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch in "({[":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack and not in_string


def test_dashboard_metric_names_exist_in_the_registry() -> None:
    exposed = _exposed_names()
    referenced = {name for expr in _exprs(_dashboard()) for name in _METRIC.findall(expr)}
    assert referenced, "no metric referenced at all"
    unknown = referenced - exposed
    assert not unknown, f"dashboard references metrics the registry does not expose: {sorted(unknown)}"
    missing = set(REQUIRED_METRICS) - referenced
    assert not missing, f"no panel for {sorted(missing)}"


def test_name_check_sees_a_wrong_suffix() -> None:
    # A counter is exposed with _total only, a histogram with _bucket/_sum/_count only.
    exposed = _exposed_names()
    assert "controlplane_aws_requests_total" in exposed
    assert "controlplane_aws_requests" not in exposed
    assert "controlplane_reconcile_seconds" not in exposed
    assert "controlplane_clusters_total" not in exposed


def test_dashboard_shape() -> None:
    dashboard = _dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    graphs = [p for p in panels if p["type"] != "row"]
    assert len(graphs) >= 20
    for panel in graphs:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            expr = target["expr"]
            assert _balanced(expr), f"{panel['title']}: unbalanced expression {expr!r}"
            # Every selector is scoped by the instance variable, so multi-instance setups can filter.
            assert expr.count("{") == expr.count('instance=~"$instance"'), f"{panel['title']}: {expr}"
