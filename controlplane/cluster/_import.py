"""Phase ``importing``: adopt an existing EKS cluster without changing anything in AWS."""

from __future__ import annotations

from controlplane.api import Phase
from controlplane.aws import AwsError

from . import _plan
from ._context import Next, Pass, ReconcileError
from ._create import record_endpoint


async def import_cluster(p: Pass) -> Next:
    try:
        cluster = await p.scope.describe_cluster(p.display)
    except AwsError as exc:
        raise ReconcileError(f"error describing cluster {p.display} for import: {exc}") from exc
    record_endpoint(p, cluster)
    try:
        # A cluster we created once and re-import gets its managed launch template back.
        templates = await p.scope.describe_launch_templates(names=[_plan.launch_template_name(p.display)])
    except AwsError:
        templates = []  # the operator ignores these errors: the template is optional
    if templates:
        p.status.eks_status.managed_launch_template_id = str(templates[0].get("LaunchTemplateId") or "")
    vpc = cluster.get("resourcesVpcConfig") or {}
    p.status.eks_status.subnets = list(vpc.get("subnetIds") or [])
    p.status.eks_status.security_groups = list(vpc.get("securityGroupIds") or [])
    p.event("Imported", f"EKS cluster {p.display} imported")
    return Next(Phase.ACTIVE, 0)
