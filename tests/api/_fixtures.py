"""Valid specs the validation tests start from; each test breaks exactly one thing."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from controlplane.api import Cluster, ClusterSpec, EKSClusterConfigSpec, LaunchTemplate, Metadata, NodeGroup

S = TypeVar("S", bound=msgspec.Struct)

MIME = (
    'Content-Type: multipart/mixed; boundary="//"\n\n'
    "--//\nContent-Type: text/x-shellscript\n\necho hi\n--//--\n"
)


def node_group(name: str = "ng1", **changes: object) -> NodeGroup:
    ng = NodeGroup(
        nodegroup_name=name,
        gpu=False,
        arm=False,
        disk_size=20,
        instance_type="t3.medium",
        labels={"team": "core"},
        ec2_ssh_key="",
        desired_size=2,
        max_size=3,
        min_size=1,
        subnets=[],
        tags={},
        resource_tags={},
        user_data=MIME,
        version="1.30",
        request_spot_instances=False,
    )
    return _replace(ng, changes)


def spot_node_group(name: str = "spot", **changes: object) -> NodeGroup:
    base = node_group(name, instance_type="", request_spot_instances=True, spot_instance_types=["t3.large"])
    return _replace(base, changes)


def lt_node_group(name: str = "lt", **changes: object) -> NodeGroup:
    base = NodeGroup(
        nodegroup_name=name,
        gpu=False,
        labels={},
        desired_size=1,
        max_size=2,
        min_size=1,
        subnets=[],
        tags={},
        version="1.30",
        request_spot_instances=False,
        launch_template=LaunchTemplate(id="lt-0123456789abcdef0", version=3),
    )
    return _replace(base, changes)


def spec(**changes: object) -> EKSClusterConfigSpec:
    base = EKSClusterConfigSpec(
        amazon_credential_secret="cattle-global-data:cc-abc",
        display_name="prod-use1",
        region="us-east-1",
        kubernetes_version="1.30",
        tags={"env": "prod"},
        secrets_encryption=False,
        public_access=True,
        private_access=False,
        public_access_sources=["0.0.0.0/0"],
        logging_types=["api", "audit"],
        subnets=[],
        security_groups=[],
        node_groups=[node_group()],
    )
    return _replace(base, changes)


def imported_spec(**changes: object) -> EKSClusterConfigSpec:
    base = EKSClusterConfigSpec(
        amazon_credential_secret="cattle-global-data:cc-abc",
        display_name="legacy",
        region="eu-west-1",
        imported=True,
    )
    return _replace(base, changes)


def cluster(eks: EKSClusterConfigSpec | None = None, name: str = "c-abc12") -> Cluster:
    return Cluster(metadata=Metadata(name=name), spec=ClusterSpec(eks_config=eks or spec()))


def _replace(obj: S, changes: dict[str, object]) -> S:
    return msgspec.structs.replace(obj, **changes)
