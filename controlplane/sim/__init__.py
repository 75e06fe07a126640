"""AWS simulator: a lifecycle-faithful EKS (REST-JSON, as botocore calls it) on one aiohttp listener,
with fault injection and a ``/_sim/`` control API; every other service is forwarded to an in-process
moto server, and each cluster gets a downstream Kubernetes API endpoint.

Imports nothing from the control plane: it must behave like AWS, not like our client.
"""

from ._demo import DemoSeedError, seed_demo
from ._errors import EksError
from ._main import main
from ._server import Simulator
from ._settings import FaultSettings, SimSettings

__all__ = ["DemoSeedError", "EksError", "FaultSettings", "SimSettings", "Simulator", "main", "seed_demo"]
