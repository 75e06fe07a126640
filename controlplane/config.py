"""Service configuration: frozen settings structs, loaded from TOML, environment and flags.

Precedence (lowest to highest): built-in defaults, ``config/controlplane.toml`` (or ``--config FILE``),
environment variables ``CONTROLPLANE_<SECTION>_<FIELD>`` (e.g. ``CONTROLPLANE_ADMIN_LISTEN``; of
``[store]`` only ``CONTROLPLANE_STORE_URL`` and ``CONTROLPLANE_STORE_SECRET_KEY_FILE``), then
command-line flags. ``CONTROLPLANE_TIME_SCALE`` multiplies every wait, requeue and backoff interval.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

ENV_PREFIX = "CONTROLPLANE_"


class ConfigError(ValueError):
    """A setting has a bad value; the message names the setting and the rule."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ServiceSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    data_dir: str = "./data"
    """Directory holding the SQLite database, the admin token file and other state (created 0700)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Minimum level of log lines written to stderr."""
    log_format: Literal["json", "kv"] = "json"
    """``json``: one JSON object per line; ``kv``: ``key=value`` pairs, easier to read in a terminal."""
    shutdown_timeout: float = 10.0
    """Seconds granted to actors to finish the message in hand on SIGTERM before they are cancelled."""
    time_scale: float = 1.0
    """Multiplies every wait, requeue and backoff interval (``CONTROLPLANE_TIME_SCALE``); tests use 0.01."""


class AdminSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    listen: str = "127.0.0.1:8080"
    """``HOST:PORT`` of the admin HTTP API, ``/metrics``, health endpoints; port 0 picks one."""
    token: str = ""
    """Bearer token for ``/v1``. Empty: read or generate ``<data_dir>/admin-token`` (mode 0600)."""
    metrics_auth: bool = False
    """Require the bearer token on ``/metrics`` too."""
    max_body_bytes: int = 1_048_576
    """Largest request body accepted; larger requests get 413."""
    reuse_port: bool = False
    """Bind the listen address with ``SO_REUSEPORT``, so that several replicas on one machine share one
    port (``serve --workers N`` sets it for its workers)."""
    max_watches_per_token: int = 200
    """Cluster watches (``GET /v1/clusters?watch=true``) one bearer token may hold open at once on this
    replica; one more is answered 429."""
    watch_buffer: int = 1000
    """Change events a watch may fall behind the feed: a client reading slower than changes arrive is
    disconnected once it is further behind (it re-watches from its last resourceVersion), instead of
    being buffered forever. The watches share one log of recent events, so this bounds memory once."""
    watch_bookmark_interval: float = 30.0
    """Seconds between BOOKMARK events on a quiet watch (they move its resourceVersion forward); one is
    sent between this and 1.25 times this after the watch's last event."""


class LifecycleSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    wait_interval: float = 30.0
    """Seconds between polls while AWS works (cluster/node group creating, updating, deleting, stacks)."""
    stack_poll_interval: float = 5.0
    """Seconds between CloudFormation stack status polls."""
    requeue_interval: float = 5.0
    """Seconds before re-checking a cluster whose next step waits (e.g. on an update in flight)."""
    backoff_base: float = 0.005
    """First retry delay after a failed reconcile (the operator's work queue: 5 ms, doubling)."""
    backoff_max: float = 30.0
    """Cap of the doubling retry delay."""
    backoff_slow: float = 120.0
    """Retry delay once ``backoff_slow_after`` consecutive failures were reached."""
    backoff_slow_after: int = 30
    """Consecutive failures after which the slow delay applies."""
    completed_update_ids_kept: int = 100
    """Bound of the completed-update bookkeeping list (the operator's grows forever)."""


class SyncSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    refresh_cron: str = "*/5 * * * *"
    """Default of the ``eks-refresh-cron`` setting: 5-field cron, ``@hourly``-style, or ``@every 30s``."""
    initial_round_spread: float = 10.0
    """At start, every cluster is refreshed once, spread over this many seconds (or the period if shorter)."""
    max_concurrent_refreshes: int = 64
    """Sync ticks refreshing at once in this process. The others wait with their cluster still encoded:
    a backlog (the clusters of shards taken over from a dead replica, 25,000 ticks due within 10 s) then
    holds a kilobyte each, not a decoded cluster of a hundred objects for the collector to walk. Keep it
    above the EKS ``max_in_flight``, so that the AWS calls stay pipelined."""


class ReplicaSettings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str = ""
    """This replica's id. Empty: the id kept in ``<data_dir>/replica-id`` (created as the hostname plus a
    random suffix), or a fresh one when another running process holds that file."""
    shards: int = 256
    """Shards the fleet is cut into (a stable hash of the cluster name); every replica must agree."""
    lease_duration: float = 15.0
    """Seconds a shard lease lasts after its last renewal; then another replica may take the shard."""
    renew_deadline: float = 10.0
    """Seconds after its last successful renewal by which a replica stops a shard's actors if it could
    not renew (before the lease can expire anywhere else). Must be < lease_duration."""
    retry_period: float = 2.0
    """Seconds between heartbeats, lease renewals and balancing rounds. Must be < renew_deadline. A round
    comes sooner when a lease held by another replica expires first (a dead replica is taken over then)."""
    lease_margin: float = 1.0
    """Seconds of lease validity an actor must have left before a mutating AWS call."""


class SimSettingsSection(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    time_scale: float = 1.0
    """For ``serve --sim``: multiplies the simulator's lifecycle durations (1 = demo speed)."""
    examples_dir: str = "config/examples"
    """For ``serve --sim``: manifests applied at start."""


class Settings(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    service: ServiceSettings = ServiceSettings()
    admin: AdminSettings = AdminSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    sync: SyncSettings = SyncSettings()
    sim: SimSettingsSection = SimSettingsSection()
    replica: ReplicaSettings = ReplicaSettings()
    aws: dict[str, Any] = msgspec.field(default_factory=dict)
    """Passed to the AWS adapter's settings struct (see ``[aws]`` in config/controlplane.toml)."""
    store: dict[str, Any] = msgspec.field(default_factory=dict)
    """Passed to the store's settings struct (see ``[store]`` in config/controlplane.toml)."""

    def scaled(self, seconds: float) -> float:
        """An interval multiplied by the time scale."""
        return seconds * self.service.time_scale


_SECTIONS = ("service", "admin", "lifecycle", "sync", "sim", "replica")
_STORE_ENV = ("url", "secret_key_file")
"""The ``[store]`` settings the environment may set (where the store is and its key differ per deployment;
the tuning knobs do not)."""


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for section in _SECTIONS:
        fields = msgspec.structs.fields(getattr(Settings(), section))
        for f in fields:
            key = f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}"
            if key in env:
                overrides.setdefault(section, {})[f.name] = env[key]
    for name in _STORE_ENV:
        key = f"{ENV_PREFIX}STORE_{name.upper()}"
        if key in env:
            overrides.setdefault("store", {})[name] = env[key]
    if f"{ENV_PREFIX}TIME_SCALE" in env:
        overrides.setdefault("service", {})["time_scale"] = env[f"{ENV_PREFIX}TIME_SCALE"]
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the effective settings; raises ``ConfigError`` naming the bad setting."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    raw = _merge(raw, _env_overrides(os.environ if env is None else env))
    if overrides:
        raw = _merge(raw, overrides)
    try:
        # Environment values are strings; non-strict conversion parses "0.01" -> 0.01 and "true" -> True.
        settings = msgspec.convert(raw, type=Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc
    # `not x > 0` also refuses NaN; inf would turn every wait into forever.
    if not 0 < settings.service.time_scale < math.inf:
        raise ConfigError("invalid setting: service.time_scale must be > 0 and finite")
    _check_listen(settings.admin.listen)
    _check_admin(settings.admin)
    _check_replica(settings.replica)
    if settings.sync.max_concurrent_refreshes < 1:
        raise ConfigError("invalid setting sync.max_concurrent_refreshes: must be >= 1")
    return settings


def _check_replica(r: ReplicaSettings) -> None:
    if r.shards < 1:
        raise ConfigError("invalid setting replica.shards: must be >= 1")
    if not 0 < r.retry_period < r.renew_deadline < r.lease_duration < math.inf:
        raise ConfigError(
            "invalid setting replica: need 0 < retry_period < renew_deadline < lease_duration "
            f"(got {r.retry_period}, {r.renew_deadline}, {r.lease_duration})"
        )
    if not 0 <= r.lease_margin < r.renew_deadline:
        raise ConfigError("invalid setting replica.lease_margin: must be >= 0 and < renew_deadline")


def _check_admin(a: AdminSettings) -> None:
    if a.max_watches_per_token < 0 or a.watch_buffer < 1:
        raise ConfigError("invalid setting admin: max_watches_per_token must be >= 0 and watch_buffer >= 1")
    if not 0 < a.watch_bookmark_interval < math.inf:
        raise ConfigError("invalid setting admin.watch_bookmark_interval: must be > 0 and finite")


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8080`` for IPv6)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"invalid listen address {value!r}: expected HOST:PORT with PORT 0-65535")
    return host.strip("[]") or "127.0.0.1", int(port)


def _check_listen(value: str) -> None:
    try:
        parse_listen(value)
    except ConfigError as exc:
        raise ConfigError(f"invalid setting admin.listen: {exc}") from None
