"""The in-process moto server that answers every non-EKS service, and reads of its backends.

moto's server thread shares the process with us, so its backends (``moto.backends``) are read
directly for leak checks and for what EKS must learn from EC2 (launch templates, subnet VPCs). Reads
copy containers first and retry if moto's thread changed them mid-iteration.

moto keeps its backends in process-global state: every moto server (and ``mock_aws``) in a process
shares one AWS world. A ``MotoServer`` therefore resets that world when it starts, so each simulator
begins empty; two simulators open at the same time in one process see (and reset) each other's
non-EKS resources.

moto's backends are not thread-safe (its IAM ``create_role`` walks every role while another request
thread adds one, and fails with "dictionary changed size during iteration": a 500 that real AWS never
answers). The server's requests therefore run one at a time (``_OneAtATime``); they hold the GIL the
whole time anyway, so nothing is lost.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def iam_principal(arn: str) -> str:
    """The IAM ARN of a caller ARN: ``arn:aws:sts::1:assumed-role/R/s`` is ``arn:aws:iam::1:role/R``, an
    STS user (moto's default identity) its IAM user."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts":
        return arn
    kind, _, rest = parts[5].partition("/")
    if kind == "assumed-role":
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{rest.split('/', 1)[0]}"
    return f"arn:{parts[1]}:iam::{parts[4]}:{parts[5]}"


def _stable(read: Callable[[], T]) -> T:
    for _ in range(5):
        try:
            return read()
        except RuntimeError:  # "dictionary changed size during iteration" from moto's thread
            continue
    return read()


def _backend_dict(service: str) -> dict[str, Any]:
    from moto import backends  # noqa: PLC0415 (moto is heavy; import it once started)

    get: Any = backends.get_backend  # typed per literal service name; ours are plain strings
    return get(service)  # type: ignore[no-any-return]


def regional(service: str, account: str, region: str) -> Any | None:
    """moto's backend of ``service`` for one account and region, or None when moto has not made it
    yet (nothing of that service exists there)."""
    # dict.get does not call BackendDict.__getitem__, so no empty backend is created by a read.
    per_account = dict.get(_backend_dict(service), account)
    if per_account is None:
        return None
    return dict.get(per_account, region)


def _all_regional(service: str) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for account, per_account in list(dict.items(_backend_dict(service))):
        for region, backend in list(dict.items(per_account)):
            if region != "global":
                out.append((account, region, backend))
    return out


class _OneAtATime:
    """A WSGI app that runs ``app`` for one request at a time, its whole response included."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            body = self._app(environ, start_response)
            try:
                return list(body)
            finally:
                close = getattr(body, "close", None)  # WSGI: the server closes what the app returned
                if close is not None:
                    close()


def _moto_server_class() -> type[Any]:
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer  # noqa: PLC0415
    from werkzeug.serving import make_server  # noqa: PLC0415

    class _SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the app wrapped
            app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return _SerialMotoServer


class MotoServer:
    """``moto.server.ThreadedMotoServer`` on 127.0.0.1 and an ephemeral port, opened and closed once."""

    def __init__(self, account_id: str) -> None:
        self._account = account_id
        self._server: Any | None = None
        self._closed = False
        self.url = ""

    def start(self) -> None:
        """Blocking: run in a thread (``asyncio.to_thread``)."""
        if self._server is not None or self._closed:
            raise RuntimeError("MotoServer can be started once")
        import logging  # noqa: PLC0415

        # werkzeug logs one line per request to stderr; the simulator counts calls itself.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = _moto_server_class()(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # moto's state is process-global: start from an empty AWS world, whatever earlier simulators,
        # moto servers or mock_aws users in this process left behind.
        reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=30) as resp:
            resp.read()

    def account_for(self, access_key: str | None, account_header: str | None) -> str:
        """The account moto files a request under, decided the way moto decides it: the
        ``MOTO_ACCOUNT_ID`` environment variable, the ``x-moto-account-id`` header, then the account
        that owns the access key (IAM users and assumed roles), else moto's default account."""
        env = os.environ.get("MOTO_ACCOUNT_ID")
        if env:
            return env
        if account_header:
            return account_header
        from moto.iam.models import get_account_id_from  # noqa: PLC0415

        return str(get_account_id_from(access_key or ""))

    def stop(self) -> None:
        """Blocking: stop serving and close the listening socket."""
        self._closed = True
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        inner = getattr(server, "_server", None)
        if inner is not None:
            inner.server_close()

    # --- lookups EKS needs (the AwsLookup protocol) ---------------------------------------------

    def launch_template(
        self, region: str, lt_id: str | None, lt_name: str | None, version: str | None
    ) -> dict[str, str] | None:
        def read() -> dict[str, str] | None:
            ec2 = regional("ec2", self._account, region)
            if ec2 is None:
                return None
            lt = None
            if lt_id:
                lt = ec2.launch_templates.get(lt_id)
            else:
                for t in list(ec2.launch_templates.values()):
                    if t.name == lt_name:
                        lt = t
                        break
            if lt is None:
                return None
            numbers = [v.number for v in lt.versions]
            if version is None or version == "$Default":
                number = lt.default_version_number
            elif version == "$Latest":
                number = max(numbers)
            elif version.isdigit() and int(version) in numbers:
                number = int(version)
            else:
                raise LookupError(version)
            return {"id": lt.id, "name": lt.name, "version": str(number)}

        return _stable(read)

    def subnet_vpc(self, region: str, subnet_id: str) -> str | None:
        def read() -> str | None:
            ec2 = regional("ec2", self._account, region)
            if ec2 is None:
                return None
            for per_zone in list(ec2.subnets.values()):
                s = per_zone.get(subnet_id)
                if s is not None:
                    return str(s.vpc_id)
            return None

        return _stable(read)

    def principal(self, access_key: str, region: str) -> str:
        """The IAM principal STS GetCallerIdentity names for ``access_key`` (moto decides it), in the form
        an access entry names it: an assumed-role session is its role."""
        from moto.sts.models import sts_backends  # noqa: PLC0415 (moto is heavy; import it once started)

        partition = (
            "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
        )
        account = self.account_for(access_key, None)
        _, arn, _ = sts_backends[account][partition].get_caller_identity(access_key, region)
        return iam_principal(str(arn))

    # --- leak checks ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Launch templates (with versions), CloudFormation stacks and IAM OIDC providers that exist, in
        every region."""

        def read() -> dict[str, Any]:
            lts = []
            for account, region, ec2 in _all_regional("ec2"):
                for lt in list(ec2.launch_templates.values()):
                    lts.append(
                        {
                            "account": account,
                            "region": region,
                            "id": lt.id,
                            "name": lt.name,
                            "defaultVersion": lt.default_version_number,
                            "versions": [v.number for v in lt.versions],
                            "tags": {t["key"]: t["value"] for t in lt.get_tags()},
                        }
                    )
            stacks = []
            for account, region, cfn in _all_regional("cloudformation"):
                for st in list(cfn.stacks.values()):
                    if st.status == "DELETE_COMPLETE":
                        continue
                    stacks.append(
                        {
                            "account": account,
                            "region": region,
                            "name": st.name,
                            "id": st.stack_id,
                            "status": st.status,
                        }
                    )
            providers = []
            for account, per_account in list(dict.items(_backend_dict("iam"))):
                for iam in list(dict.values(per_account)):  # one IAM backend per partition
                    for arn, provider in list(iam.open_id_providers.items()):
                        providers.append({"account": account, "arn": arn, "url": provider.url})
            return {"launchTemplates": lts, "stacks": stacks, "oidcProviders": providers}

        return _stable(read)
