"""The composition root: builds the store, the shared adapters, the actors and the admin API, runs
them, and shuts them down in order on SIGTERM/SIGINT. The only module that knows everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from actors import ActorError, ActorSystem, Supervision
from controlplane import metrics
from controlplane._observer import MetricsObserver
from controlplane.admin import admin_token, build_admin_app
from controlplane.api import Cluster, Credential
from controlplane.aws import AwsAdapter, AwsCredentialSpec, AwsSettings
from controlplane.cluster import ClusterActor, ClusterDeps, DeleteRequested, SpecChanged, SyncTick
from controlplane.config import LifecycleSettings, Settings, parse_listen
from controlplane.downstream import DownstreamSettings, generate_service_account_token
from controlplane.probe import Prober, ProbeSettings
from controlplane.schedule import parse_refresh_cron
from controlplane.scheduler import REFRESH_CRON_SETTING, RoundTracker, SchedulerActor, SettingChanged
from controlplane.store import SQLiteStore, Store, StoreSettings
from controlplane.token import TokenMinter

log = logging.getLogger("controlplane.service")

SCHEDULER = "scheduler"
CREDENTIAL_CACHE_SECONDS = 10.0
"""How long a credential read from the store is reused (a rotated key is in use within this time)."""
CREDENTIAL_CACHE_SIZE = 4096


class Controller:
    """Implements the admin API's ``ClusterController``: tells actors about persisted changes."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def ready(self) -> bool:
        return self._service.ready

    async def cluster_created(self, name: str) -> None:
        await self._service.start_cluster(name)

    async def cluster_spec_changed(self, name: str) -> None:
        self._service.tell(name, SpecChanged())

    async def cluster_delete_requested(self, name: str) -> None:
        self._service.tell(name, DeleteRequested())

    async def sync_now(self, name: str) -> None:
        if name not in self._service.system:
            raise KeyError(name)
        loop = asyncio.get_running_loop()
        self._service.tell(name, SyncTick(planned=loop.time()))

    async def setting_changed(self, name: str, value: str) -> None:
        if name == REFRESH_CRON_SETTING and SCHEDULER in self._service.system:
            self._service.system.get(SCHEDULER).tell(SettingChanged(value))


class Service:
    """The running control plane. Use ``async with Service(settings) as svc``."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        self.settings = settings
        self.data_dir = Path(settings.service.data_dir)
        self._store = store
        self.ready = False
        self.url = ""
        self.token = ""
        self.token_path: Path | None = None
        self.tracker = RoundTracker()
        self._credentials: OrderedDict[tuple[str, str], tuple[float, AwsCredentialSpec | None]]
        self._credentials = OrderedDict()
        self._stack = contextlib.AsyncExitStack()
        self.system: ActorSystem
        self.store: Store
        self.deps: ClusterDeps

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
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = self._store or SQLiteStore(
            self.data_dir / "controlplane.db", msgspec.convert(s.store, StoreSettings)
        )
        self.store = await self._stack.enter_async_context(store)
        aws_settings = msgspec.convert(s.aws, AwsSettings)
        aws = await self._stack.enter_async_context(AwsAdapter(aws_settings, self._credential_lookup))
        downstream = DownstreamSettings()

        async def service_account_token(endpoint: str, ca: str, token: Any, cluster: str) -> str:
            return await generate_service_account_token(
                endpoint=endpoint, ca_data=ca, token=token, cluster_name=cluster, settings=downstream
            )

        ts = s.service.time_scale
        prober = Prober(_probe_settings(ts))
        self._stack.callback(prober.close)
        self.deps = ClusterDeps(
            store=self.store,
            aws=aws,
            prober=prober,
            minter=TokenMinter(),
            lifecycle=s.lifecycle,
            time_scale=s.service.time_scale,
            service_account_token=service_account_token,
            on_refreshed=self.tracker.refreshed,
            on_removed=self._removed,
        )
        self.system = ActorSystem(
            supervision=Supervision(
                backoff_base=0.005 * ts, backoff_max=120.0 * ts, max_restarts=30, within=600
            ),
            observer=MetricsObserver(),
            stop_timeout=s.service.shutdown_timeout,
        )
        await self._stack.enter_async_context(self.system)
        # LIFO: the admin site stops accepting first, then actors stop, then the store flushes and closes.
        await self._start_clusters()
        await self._start_scheduler()
        await self._start_admin()
        self.ready = True

    async def _credential_lookup(self, namespace: str, name: str) -> AwsCredentialSpec | None:
        """Credentials by reference, cached for a few seconds: every refresh of every cluster resolves
        one, and a store round trip per refresh would cost more than the AWS call it signs."""
        key = (namespace, name)
        now = time.monotonic()
        hit = self._credentials.get(key)
        if hit is not None and now - hit[0] < CREDENTIAL_CACHE_SECONDS:
            return hit[1]
        cred = await self.store.get_credential(namespace, name)
        spec = None
        if cred is not None:
            spec = AwsCredentialSpec(
                access_key_id=cred.access_key,
                secret_access_key=cred.secret_key,
                session_token=cred.session_token,
                role_arn=cred.role_arn,
                external_id=cred.external_id,
            )
        self._credentials[key] = (now, spec)
        self._credentials.move_to_end(key)
        while len(self._credentials) > CREDENTIAL_CACHE_SIZE:
            self._credentials.popitem(last=False)
        return spec

    async def _start_clusters(self) -> None:
        for cluster in await self.store.list_clusters():
            self._spawn(cluster)
        log.info("clusters started", extra={"clusters": len(self.system)})

    def _spawn(self, cluster: Cluster) -> None:
        self.system.spawn(cluster.metadata.name, ClusterActor(cluster, self.deps))

    async def start_cluster(self, name: str) -> None:
        if name in self.system:
            self.tell(name, SpecChanged())
            return
        cluster = await self.store.get_cluster(name)
        if cluster is not None:
            self._spawn(cluster)

    def tell(self, name: str, message: Any) -> None:
        try:
            self.system.get(name).tell(message)
        except ActorError as exc:
            log.warning("message not delivered", extra={"cluster": name, "error": str(exc)})

    def _removed(self, name: str) -> None:
        log.info("cluster removed", extra={"cluster": name})

    def _cluster_names(self) -> list[str]:
        return [n for n in self.system.names() if n != SCHEDULER]

    def _send_tick(self, name: str, tick: SyncTick) -> bool:
        if name not in self.system:
            return False
        self.system.get(name).tell(tick)
        return True

    async def _start_scheduler(self) -> None:
        s = self.settings
        value = await self.store.get_setting(REFRESH_CRON_SETTING) or s.sync.refresh_cron
        schedule = parse_refresh_cron(value)
        self.system.spawn(
            SCHEDULER,
            SchedulerActor(
                schedule,
                cluster_names=self._cluster_names,
                send=self._send_tick,
                initial_spread=s.scaled(s.sync.initial_round_spread),
                tracker=self.tracker,
            ),
        )

    async def _start_admin(self) -> None:
        s = self.settings
        self.token, self.token_path = admin_token(s.admin, self.data_dir)
        app = build_admin_app(
            store=self.store,
            controller=Controller(self),
            settings=s.admin,
            token=self.token,
            registry=metrics.REGISTRY,
            logger=logging.getLogger("controlplane.admin"),
            setting_defaults={REFRESH_CRON_SETTING: s.sync.refresh_cron},
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        host, port = parse_listen(s.admin.listen)
        site = web.TCPSite(runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"


@contextlib.asynccontextmanager
async def _simulator(settings: Settings) -> AsyncIterator[Any]:
    from controlplane.sim import SimSettings, Simulator  # noqa: PLC0415 - only with --sim

    async with Simulator(SimSettings(time_scale=settings.sim.time_scale)) as sim:
        yield sim


def _sim_settings(settings: Settings, url: str) -> Settings:
    """``serve --sim``: every service at the simulator, limits sized for it, and polls at the simulator's
    pace (its clusters take seconds, not minutes) unless the configuration says otherwise."""
    aws: dict[str, Any] = {**settings.aws, "endpoint_url": url}
    lifecycle = settings.lifecycle
    if lifecycle.wait_interval == LifecycleSettings().wait_interval:
        lifecycle = msgspec.structs.replace(lifecycle, wait_interval=3.0, stack_poll_interval=1.0)
    return msgspec.structs.replace(settings, aws=aws, lifecycle=lifecycle)


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


def _read_examples(examples: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(examples.glob("*.yaml"))] if examples.is_dir() else []


async def _seed_demo(svc: Service, sim: Any, examples: Path) -> None:
    """Example credential, the pre-existing cluster to import, and the example manifests."""
    import aiohttp  # noqa: PLC0415

    from controlplane.api import decode_manifests  # noqa: PLC0415

    if await svc.store.get_setting(REFRESH_CRON_SETTING) is None:
        # The demo refreshes every 30 s so that console changes (PATCH /_sim/clusters) show quickly.
        await svc.store.put_setting(REFRESH_CRON_SETTING, "@every 30s")
        await Controller(svc).setting_changed(REFRESH_CRON_SETTING, "@every 30s")
    if await svc.store.get_credential("default", "demo") is None:
        await svc.store.put_credential(
            Credential(
                namespace="default", name="demo", access_key="AKIDDEMOEXAMPLE", secret_key="demo-secret"
            )
        )
    documents = _read_examples(examples)
    async with aiohttp.ClientSession() as http:
        for text in documents:
            for cluster in decode_manifests(text):
                eks = cluster.spec.eks_config
                if eks.imported:
                    await http.post(
                        f"{sim.url}/_sim/clusters",
                        json={
                            "name": eks.display_name,
                            "region": eks.region,
                            "version": "1.30",
                            "nodegroups": [
                                {"name": "existing", "desiredSize": 2, "minSize": 1, "maxSize": 3}
                            ],
                        },
                    )
                if await svc.store.get_cluster(cluster.metadata.name) is None:
                    await svc.store.create_cluster(cluster)
                    await svc.start_cluster(cluster.metadata.name)


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
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDDEMOEXAMPLE")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo-secret")
        svc = await stack.enter_async_context(Service(settings))
        if simulator is not None:
            await _seed_demo(svc, simulator, Path(settings.sim.examples_dir))
        print(
            f"eks-controlplane: admin API {svc.url}  metrics {svc.url}/metrics", file=sys.stderr, flush=True
        )
        if svc.token_path is not None:
            print(f"eks-controlplane: admin token in {svc.token_path}", file=sys.stderr, flush=True)
        if simulator is not None:
            print(f"eks-controlplane: simulator {simulator.url}", file=sys.stderr, flush=True)
        log.info("serving", extra={"url": svc.url, "sim": bool(simulator)})
        await stop.wait()
        log.info("shutting down")
    log.info("stopped")
    return 0
