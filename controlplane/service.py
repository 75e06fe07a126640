"""The composition root: builds the store, the shared adapters, the actors and the admin API, runs
them, and shuts them down in order on SIGTERM/SIGINT. The only module that knows everything."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import msgspec
from aiohttp import web

from actors import ActorSystem, Supervision
from controlplane import metrics
from controlplane._heap import freeze_as_the_fleet_grows
from controlplane._loopwatch import GcTimer, watch_loop
from controlplane._observer import MetricsObserver
from controlplane.admin import AdminThread, admin_token, build_admin_app
from controlplane.aws import AwsAdapter, AwsSettings, CachedCredentialLookup
from controlplane.cluster import ClusterDeps
from controlplane.config import LifecycleSettings, Settings, SyncSettings, parse_listen
from controlplane.downstream import DownstreamSettings, generate_service_account_token
from controlplane.fleet import SCHEDULER, Fleet
from controlplane.probe import Prober, ProbeSettings
from controlplane.replicas import Membership, follow, resolve_identity
from controlplane.schedule import parse_refresh_cron
from controlplane.scheduler import REFRESH_CRON_SETTING, RoundTracker, SchedulerActor
from controlplane.store import Store, StoreSettings, open_store, redact_url, store_url
from controlplane.token import TokenMinter

log = logging.getLogger("controlplane.service")

CREDENTIAL_CACHE_SECONDS = 10.0
"""How long a credential read from the store is reused (a rotated key is in use within this time)."""
CREDENTIAL_CACHE_SIZE = 4096
DEMO_REFRESH_CRON = "@every 30s"
"""``serve --sim`` refreshes every 30 s, so console changes (``PATCH /_sim/clusters``) show quickly."""


class _ReplicaView:
    """What the admin API shows of this replica (``admin.ReplicaView``)."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def ready(self) -> bool:
        svc = self._service
        return svc.ready and svc.membership.joined

    @property
    def replica_id(self) -> str:
        return self._service.membership.id

    @property
    def lease_duration(self) -> float:
        return self._service.settings.replica.lease_duration


class Service:
    """The running control plane: one replica. Use ``async with Service(settings) as svc``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.service.data_dir)
        self.ready = False
        self.url = ""
        self.token = ""
        self.token_path: Path | None = None
        self.store_url = ""
        """Where the store is, password redacted."""
        self.tracker = RoundTracker()
        self._stack = contextlib.AsyncExitStack()
        self.system: ActorSystem
        self.store: Store
        self.deps: ClusterDeps
        self.fleet: Fleet
        self.membership: Membership

    # --- lifecycle ----------------------------------------------------------------------------------

    async def __aenter__(self) -> Service:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.ready = False
        await self._stack.aclose()

    async def _open(self) -> None:
        s = self.settings
        stack = self._stack
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        identity = resolve_identity(s.replica.id, self.data_dir)
        stack.callback(identity.close)
        stack.callback(GcTimer().close)
        store_settings = msgspec.convert(s.store, StoreSettings)
        self.store_url = redact_url(store_url(store_settings, self.data_dir))
        store = open_store(
            store_settings.url, store_settings, data_dir=self.data_dir, shards=s.replica.shards
        )
        self.store = await stack.enter_async_context(store)
        credentials = CachedCredentialLookup(
            self.store.get_credential, ttl=CREDENTIAL_CACHE_SECONDS, size=CREDENTIAL_CACHE_SIZE
        )
        aws = await stack.enter_async_context(AwsAdapter(msgspec.convert(s.aws, AwsSettings), credentials))
        downstream = DownstreamSettings()

        async def service_account_token(endpoint: str, ca: str, token: Any, cluster: str) -> str:
            return await generate_service_account_token(
                endpoint=endpoint, ca_data=ca, token=token, cluster_name=cluster, settings=downstream
            )

        ts = s.service.time_scale
        prober = Prober(_probe_settings(ts))
        stack.callback(prober.close)
        self.deps = ClusterDeps(
            store=self.store,
            aws=aws,
            prober=prober,
            minter=TokenMinter(),
            lifecycle=s.lifecycle,
            replica=identity.id,
            time_scale=ts,
            service_account_token=service_account_token,
            on_refreshed=self.tracker.refreshed,
            refresh_slots=anyio.Semaphore(s.sync.max_concurrent_refreshes),
        )
        self.system = ActorSystem(
            supervision=Supervision(
                backoff_base=0.005 * ts, backoff_max=120.0 * ts, max_restarts=30, within=600
            ),
            observer=MetricsObserver(),
            stop_timeout=s.service.shutdown_timeout,
        )
        await stack.enter_async_context(self.system)
        self.fleet = Fleet(
            self.system,
            self.store,
            self.deps,
            shards=s.replica.shards,
            check=self._check_lease,
            on_credential_changed=credentials.invalidate,
        )
        self.deps.on_removed = self.fleet.forget
        # LIFO: the admin site stops accepting first, then the background loops stop, then the replica
        # leaves (its actors stop and flush, its leases are released), then the store closes.
        await self._start_admin(store_settings)
        self.membership = Membership(
            self.store, s.replica, replica_id=identity.id, address=self.url, host=self.fleet
        )
        stack.push_async_callback(self.membership.leave)
        # Before the join: nothing renews the leases it takes until ``membership.run`` starts below, and
        # loading botocore's models took longer than a 3 s lease on a busy machine.
        await self.deps.aws.warm()
        cursor = await self.store.head()  # before join lists its shards: no change slips between
        await self.membership.join()
        log.info(
            "replica joined",
            extra={
                "replica": identity.id,
                "shards": len(self.membership.shards()),
                "clusters": len(self.fleet),
            },
        )
        await self._start_scheduler()
        # Everything built so far (modules, botocore's models, the actors) lives as long as the process:
        # out of the collector's sight, a full collection walks only what changes afterwards.
        gc.freeze()
        stack.callback(gc.unfreeze)
        background = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(background.cancel_scope.cancel)
        background.start_soon(self.membership.run)
        background.start_soon(watch_loop)
        background.start_soon(freeze_as_the_fleet_grows, partial(len, self.fleet))
        background.start_soon(partial(follow, self.store, self.fleet, after=cursor))
        self.ready = True

    def _check_lease(self, shard: int) -> None:
        self.membership.check(shard)

    async def _start_scheduler(self) -> None:
        s = self.settings
        value = await self.store.get_setting(REFRESH_CRON_SETTING) or s.sync.refresh_cron
        self.fleet.spawn_system(
            SCHEDULER,
            SchedulerActor(
                parse_refresh_cron(value),
                cluster_names=self.fleet.names,
                send=self.fleet.send_tick,
                initial_spread=s.scaled(s.sync.initial_round_spread),
                tracker=self.tracker,
            ),
        )

    async def _start_admin(self, store_settings: StoreSettings) -> None:
        """The admin API on its own event loop, thread and store connection (``admin.AdminThread``)."""
        s = self.settings
        self.token, self.token_path = admin_token(s.admin, self.data_dir)
        view = _ReplicaView(self)

        def app(store: Store) -> web.Application:
            return build_admin_app(
                store=store,
                replica=view,
                settings=s.admin,
                token=self.token,
                registry=metrics.REGISTRY,
                logger=logging.getLogger("controlplane.admin"),
                setting_defaults={REFRESH_CRON_SETTING: s.sync.refresh_cron},
                default_region=self.deps.aws.default_region,
            )

        host, port = parse_listen(s.admin.listen)
        admin = AdminThread(
            store=lambda: open_store(
                store_settings.url, store_settings, data_dir=self.data_dir, shards=s.replica.shards
            ),
            app=app,
            host=host,
            port=port,
            reuse_port=s.admin.reuse_port,
        )
        self.url = await anyio.to_thread.run_sync(admin.start)

        async def stop_admin() -> None:
            await anyio.to_thread.run_sync(admin.stop)

        self._stack.push_async_callback(stop_admin)


@contextlib.asynccontextmanager
async def _simulator(settings: Settings) -> AsyncIterator[Any]:
    from controlplane.sim import SimSettings, Simulator  # noqa: PLC0415 - only with --sim

    async with Simulator(SimSettings(time_scale=settings.sim.time_scale)) as sim:
        yield sim


async def _seed_demo(sim_url: str, svc: Service, examples: Path) -> None:
    from controlplane.sim import seed_demo  # noqa: PLC0415 - only with --sim

    await seed_demo(sim_url=sim_url, admin_url=svc.url, token=svc.token, examples=examples)


def _sim_settings(settings: Settings, url: str) -> Settings:
    """``serve --sim``: every service at the simulator, limits sized for it, and polls and refreshes at
    the simulator's pace (its clusters take seconds, not minutes) unless the configuration says otherwise.
    A refresh schedule stored through the settings API still wins over this default."""
    aws: dict[str, Any] = {**settings.aws, "endpoint_url": url}
    lifecycle = settings.lifecycle
    if lifecycle.wait_interval == LifecycleSettings().wait_interval:
        lifecycle = msgspec.structs.replace(lifecycle, wait_interval=3.0, stack_poll_interval=1.0)
    sync = settings.sync
    if sync.refresh_cron == SyncSettings().refresh_cron:
        sync = msgspec.structs.replace(sync, refresh_cron=DEMO_REFRESH_CRON)
    return msgspec.structs.replace(settings, aws=aws, lifecycle=lifecycle, sync=sync)


def _probe_settings(time_scale: float) -> ProbeSettings:
    """Probe timeouts follow the time scale too (tests), with a floor a loopback handshake clears."""
    base = ProbeSettings()
    return msgspec.structs.replace(
        base,
        dns_timeout=max(0.2, base.dns_timeout * time_scale),
        connect_timeout=max(0.2, base.connect_timeout * time_scale),
        handshake_timeout=max(0.2, base.handshake_timeout * time_scale),
        cache_ttl=base.cache_ttl * time_scale,
    )


async def serve(settings: Settings, *, sim: bool = False, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        simulator = None
        if sim:
            simulator = await stack.enter_async_context(_simulator(settings))
            settings = _sim_settings(settings, simulator.url)
            # The simulator takes any key; the default chain must simply find one.
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDDEMOEXAMPLE")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo-secret")
        svc = await stack.enter_async_context(Service(settings))
        if simulator is not None:
            await _seed_demo(simulator.url, svc, Path(settings.sim.examples_dir))
        print(
            f"eks-controlplane: admin API {svc.url}  metrics {svc.url}/metrics", file=sys.stderr, flush=True
        )
        print(f"eks-controlplane: store {svc.store_url}", file=sys.stderr, flush=True)
        if svc.token_path is not None:
            print(f"eks-controlplane: admin token in {svc.token_path}", file=sys.stderr, flush=True)
        if simulator is not None:
            print(f"eks-controlplane: simulator {simulator.url}", file=sys.stderr, flush=True)
        log.info("serving", extra={"url": svc.url, "sim": bool(simulator)})
        await stop.wait()
        log.info("shutting down")
    log.info("stopped")
    return 0
