"""Keeping moto's resources (EC2, CloudFormation, IAM) across a simulator restart (``--state FILE``).

The EKS state is saved as JSON by ``_persist``; moto's is a graph of Python objects (a stack's resources
are the very IAM and EC2 objects those backends hold), so it is pickled in one piece, which keeps the
shared references. It is written next to the EKS state (``FILE.moto``) when the simulator stops, and
loaded into the freshly reset moto world when it starts again. The file is the simulator's own, read
only by it: pickle is acceptable for that, never for data from elsewhere.
"""

from __future__ import annotations

import io
import pickle
from types import MethodType
from typing import Any

from ._moto import _backend_dict, _stable

SERVICES = ("ec2", "cloudformation", "iam")
"""moto services whose resources the control plane creates (STS keeps no state worth keeping)."""
_FORMAT = 1


def suffix_path(state_file: str) -> str:
    return state_file + ".moto"


def dump() -> bytes:
    """Blocking: moto's resources of ``SERVICES`` in every account, pickled (retried if moto's thread
    changed them mid-way)."""

    def read() -> bytes:
        worlds = {service: dict(dict.items(_backend_dict(service))) for service in SERVICES}
        buf = io.BytesIO()
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump((_FORMAT, worlds))
        return buf.getvalue()

    return _stable(read)


class _Pickler(pickle.Pickler):
    """Pickles the methods the simulator binds onto moto objects (``_launch_templates.own_numbering``) as
    function + instance: by default a bound method is pickled as ``getattr(instance, name)``, which fails
    on load for a method that lives in the instance's own ``__dict__``."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, MethodType) and str(getattr(obj.__func__, "__module__", "")).startswith(
            "controlplane.sim"
        ):
            return _bind, (obj.__func__, obj.__self__)
        return NotImplemented


def _bind(func: Any, instance: Any) -> MethodType:
    return MethodType(func, instance)


def restore(data: bytes) -> int:
    """Blocking: put the pickled resources back into moto (reset just before); returns the number of
    (service, account) worlds restored."""
    fmt, worlds = pickle.loads(data)  # our own file, written by ``dump``
    if fmt != _FORMAT:
        raise ValueError(f"unsupported moto state format {fmt}")
    restored = 0
    for service, accounts in worlds.items():
        target: dict[str, Any] = _backend_dict(service)
        for account, per_account in accounts.items():
            dict.__setitem__(target, account, per_account)
            restored += 1
    return restored


def stacks_being_deleted() -> list[tuple[str, str, str]]:
    """(account, region, stack id) of every stack left ``DELETE_IN_PROGRESS`` (its deferred deletion
    died with the previous process and must be started again)."""
    out: list[tuple[str, str, str]] = []
    for account, per_account in list(dict.items(_backend_dict("cloudformation"))):
        for region, cfn in list(dict.items(per_account)):
            for stack_id, stack in list(cfn.stacks.items()):
                if stack.status == "DELETE_IN_PROGRESS":
                    out.append((account, region, str(stack_id)))
    return out
