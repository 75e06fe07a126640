"""``Simulator``: the moto thread, the Kubernetes endpoints, the EKS backend and the aiohttp listener."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import pickle
import time
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from . import _moto_state, _persist
from ._access import kube_access
from ._backend import EksBackend, Endpoints
from ._eks import RESOURCES
from ._fixes import MotoFixes
from ._handler import Handler
from ._moto import MotoServer
from ._settings import FaultSettings, SimSettings

log = logging.getLogger("controlplane.sim")


class _PlainEndpoints:
    """Endpoints when no downstream API is served: EKS-like names under ``.invalid`` (never resolve)."""

    ca_data = ""

    def add_cluster(self, name: str, endpoint_access: str) -> str:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32].upper()
        return f"https://{digest}.gr7.eks.sim.invalid"

    def remove_cluster(self, name: str) -> None:
        return None


class Simulator:
    """The AWS simulator as an async context manager::

        async with Simulator(SimSettings(time_scale=0.01)) as sim:
            ...  # endpoint_url=sim.url for every AWS service

    It can be entered once; ``url`` is valid while it is open.

    Every non-EKS service is moto, whose state is process-global: each simulator resets moto when it
    starts, and simulators open at the same time in one process share (and reset) one moto world.
    The EKS state is per simulator.
    """

    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()
        self._state = "new"
        self._url = ""
        self._moto = MotoServer(self.settings.account_id)
        self._stack = contextlib.AsyncExitStack()
        self._backend: EksBackend | None = None
        self._handler: Handler | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None
        self._saved_generation = -1
        self._fleet: Any = None
        self.credentials: dict[str, str] = {}
        """Access key -> secret key, for verifying IAM tokens at the Kubernetes endpoints."""

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the listener (all AWS services and ``/_sim/``)."""
        if self._state != "open":
            raise RuntimeError(f"Simulator is {self._state}, not open")
        return self._url

    @property
    def backend(self) -> EksBackend:
        """The EKS state (for in-process tests and tools)."""
        if self._backend is None:
            raise RuntimeError("Simulator is not open")
        return self._backend

    @property
    def handler(self) -> Handler:
        if self._handler is None:
            raise RuntimeError("Simulator is not open")
        return self._handler

    def set_faults(self, faults: FaultSettings) -> None:
        """Replace the active faults (same as ``PUT /_sim/faults``)."""
        self.handler.set_faults(faults)

    async def __aenter__(self) -> Simulator:
        if self._state != "new":
            raise RuntimeError(f"Simulator can be entered once (it is {self._state})")
        self._state = "starting"
        try:
            await self._start()
        except BaseException:
            self._state = "closing"
            await self._stack.aclose()
            self._state = "closed"
            raise
        self._state = "open"
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._state != "open":
            return
        self._state = "closing"
        try:
            await self._stack.aclose()
        finally:
            self._state = "closed"

    async def _start(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        stack = self._stack

        await asyncio.to_thread(self._moto.start)
        stack.push_async_callback(asyncio.to_thread, self._moto.stop)  # shutdown() polls: off-loop

        endpoints: Endpoints
        if s.kube_endpoints:
            from ._kube import KubeFleet  # noqa: PLC0415 (TLS/PKI cost only when endpoints are served)

            fleet = KubeFleet(host=s.host, secret_for_access_key=self._secret_for, authorize=self._authorize)
            self._fleet = await stack.enter_async_context(fleet)
            endpoints = self._fleet
        else:
            endpoints = _PlainEndpoints()

        session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=60),
            connector=aiohttp.TCPConnector(limit=64),
        )
        stack.push_async_callback(session.close)

        backend = EksBackend(
            s,
            resources=RESOURCES,
            clock=loop.time,
            wall=time.time,
            endpoints=endpoints,
            lookup=self._moto,
            on_due=self._on_due,
        )
        self._backend = backend
        stack.callback(self._cancel_timer)
        data = await asyncio.to_thread(_persist.read_optional, s.state_file) if s.state_file else None
        if data is not None:
            restored = _persist.load(backend, data)
            log.info("restored %d clusters from %s", restored, s.state_file)
        fixes = MotoFixes(s.scaled(s.stack_delete_seconds))
        stack.callback(fixes.close)
        if s.state_file:
            await self._restore_moto(s.state_file, fixes)
        self._handler = Handler(
            backend,
            s.faults,
            clock=loop.time,
            moto=self._moto,
            fixes=fixes,
            session=session,
            credentials=self.credentials,
        )

        if s.state_file:
            # Registered before the listener: saved once it stopped answering (LIFO), so no request
            # changes moto after the snapshot.
            stack.push_async_callback(self._save_moto, s.state_file)
        server = web.Server(self._handler, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, s.host, s.port, backlog=1024)
        await site.start()
        sockets = runner.addresses
        host, port = sockets[0][0], sockets[0][1]
        self._url = f"http://{host}:{port}"

        if s.state_file:
            stack.push_async_callback(self.save_state)  # LIFO: after the saver stops, before moto
            saver = asyncio.create_task(self._save_periodically(), name="sim-state-saver")

            async def stop_saver() -> None:
                saver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saver

            stack.push_async_callback(stop_saver)

    def _secret_for(self, access_key: str) -> str | None:
        return self.credentials.get(access_key)

    def _authorize(self, cluster: str, access_key: str, aws_auth: dict[str, set[str]]) -> int:
        backend = self._backend
        if backend is None:
            return 401
        c = backend.find_any(cluster)
        if c is None:
            return 401
        if c.creator_arn is None:
            return 0  # made through the control API: whoever asks is its creator
        return kube_access(c, self._moto.principal(access_key, c.region), aws_auth)

    # --- the one lifecycle timer ----------------------------------------------------------------

    def _on_due(self, due: float) -> None:
        if self._timer_due is not None and self._timer_due <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = asyncio.get_running_loop().call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_due = None
        backend = self._backend
        if backend is None:
            return
        backend.advance()
        nxt = backend.next_due()
        if nxt is not None:
            self._on_due(nxt)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_due = None

    # --- persistence ----------------------------------------------------------------------------

    async def save_state(self) -> None:
        """Write ``state_file`` now (when one is configured and the state changed)."""
        path = self.settings.state_file
        backend = self._backend
        if not path or backend is None or backend.generation == self._saved_generation:
            return
        generation = backend.generation
        data = _persist.encode(backend, asyncio.get_running_loop().time())
        await asyncio.to_thread(_persist.write_atomic, path, data)
        self._saved_generation = generation

    async def _restore_moto(self, state_file: str, fixes: MotoFixes) -> None:
        data = await asyncio.to_thread(_persist.read_optional, _moto_state.suffix_path(state_file))
        if data is None:
            return
        worlds = await asyncio.to_thread(_moto_state.restore, data)
        # Deletions in progress died with the previous process: they start again (and take their time).
        deleting = _moto_state.stacks_being_deleted()
        for account, region, stack_id in deleting:
            fixes.stacks.start(account, region, stack_id)
        log.info(
            "restored moto's resources (%d accounts/services, %d stacks deleting)", worlds, len(deleting)
        )

    async def _save_moto(self, state_file: str) -> None:
        try:
            data = await asyncio.to_thread(_moto_state.dump)
            await asyncio.to_thread(_persist.write_atomic, _moto_state.suffix_path(state_file), data)
        except (OSError, pickle.PicklingError):
            log.exception("saving moto's resources failed")

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.state_save_interval)
            try:
                await self.save_state()
            except OSError:
                log.exception("saving the simulator state failed")
