"""The ``controlplane`` command: run the service, the simulator or a load test, and drive the admin API.

Client commands find the server in ``--server``, ``$CONTROLPLANE_SERVER`` or ``http://127.0.0.1:8080``, and
the bearer token in ``--token``, ``$CONTROLPLANE_TOKEN`` or the token file the service wrote
(``<data-dir>/admin-token``, data dir from ``--data-dir``, ``$CONTROLPLANE_DATA_DIR`` or ``./data``).
Every error exits non-zero with the server's message on stderr.

Heavy modules (aiohttp, aiobotocore, the service, the simulator) are imported inside the commands that need
them, so client commands start fast.

Layout: ``_main`` builds the parser and dispatches; one module per command group adds its commands
(``_serve``: serve, sim, load; ``_clusters``: apply, describe, delete; ``_get``: get, with pages and
``--watch``; ``_bulk``: sync and patch, by name or selector; ``_top``: the live fleet summary;
``_credentials``; ``_settings``; ``_replicas``; ``_iam``; ``_store``: store copy, on the databases
directly); ``_client`` is the admin API client and its connection options; ``_output`` is the one place
that prints tables, JSON and YAML (and rows as a watch streams).
"""

from ._main import main

__all__ = ["main"]
