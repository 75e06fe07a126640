"""Phases ``""`` (validate, networking, service role, CreateCluster) and ``creating`` (wait for ACTIVE).

Differences from eks-operator, on purpose: stack waits are polls between messages, never sleeps; the
create intent (a client request token) is persisted before ``CreateCluster``, so a process killed right
after the call adopts the cluster it created instead of failing the duplicate-name check forever.
"""

from __future__ import annotations

import uuid

from controlplane.api import Phase, validate_create
from controlplane.aws import AwsError, NotFoundError, ResourceInUseError, Template, choose_zones, render

from . import _plan
from ._context import Next, Pass, ReconcileError


async def _duplicate_checks(p: Pass) -> None:
    """validateCreate part A (our fleet, through the store's identity index) and B.1 (EKS).

    B.1 on purpose differs: the operator reads the first page of ListClusters and misses a name past
    the first 100 clusters; listing every page costs 100 calls in a 10,000-cluster account (17% of the
    CPU of a soak with 5% churn). One DescribeCluster of the name answers the same question exactly.
    """
    others = await p.deps.store.find_identity(p.display, p.spec.region)
    others.pop(p.name, None)
    for credential in others.values():
        same = credential == p.spec.amazon_credential_secret
        if not same:
            try:
                mine = await p.scope.account_id()
                theirs = await (await p.deps.aws.scope(credential, p.spec.region)).account_id()
                same = bool(mine) and mine == theirs
            except AwsError:
                same = False  # the operator counts any failure as "different account"
        if same:
            raise ReconcileError(
                f"cannot create cluster [{p.who}] because an eksclusterconfig exists with the same name"
            )
    if p.spec.imported or p.status.create_request_token:
        return
    try:
        await p.scope.describe_cluster(p.display)
    except NotFoundError:
        return
    except AwsError as exc:
        raise ReconcileError(f"error checking for a cluster in EKS with the same name: {exc}") from exc
    raise ReconcileError(
        f"cannot create cluster [{p.who}] because a cluster in EKS exists with the same name"
    )


def _underway(p: Pass) -> bool:
    """True once this create attempt has made or asked for something in AWS.

    The operator validates once per create attempt and then blocks on its stack waits; this phase polls
    the stacks between messages instead, so without this the duplicate checks would run again on every
    5-s stack poll.
    After the first resource the name is ours: a clash later is CreateCluster's ResourceInUse.
    """
    st = p.status
    return bool(st.intents or st.eks_status.subnets or st.generated_service_role or st.create_request_token)


async def create(p: Pass) -> Next:
    """Phase ``""``: validate, check for duplicates, then networking, service role and CreateCluster."""
    problems = validate_create(p.cluster)
    if problems:
        raise ReconcileError(problems[0].message)
    if not _underway(p):
        await _duplicate_checks(p)
    if p.spec.imported:
        return Next(Phase.IMPORTING, 0)
    if not await _networking(p):
        return p.stay(p.stack_poll())
    role_arn = await _service_role(p)
    if role_arn is None:
        return p.stay(p.stack_poll())
    return await _create_cluster(p, role_arn)


async def _networking(p: Pass) -> bool:
    """generateAndSetNetworking; True once networking is recorded (persisted before going on)."""
    eks = p.status.eks_status
    if eks.subnets:
        return True
    if p.spec.subnets:
        eks.subnets = list(p.spec.subnets)
        eks.security_groups = list(p.spec.security_groups or [])
        p.status.network_fields_source = "provided"
        await p.persist()
        return True
    template = Template.VPC_IPV6 if _plan.is_ipv6(p.spec) else Template.VPC

    async def vpc_template() -> str:
        # Two or three subnets, in the zones this account really has (DescribeAvailabilityZones).
        try:
            zones = choose_zones(await p.scope.describe_availability_zones())
        except AwsError as exc:
            raise ReconcileError(f"error describing availability zones: {exc}") from exc
        except ValueError as exc:
            raise ReconcileError(f"{exc} (region {p.spec.region})") from exc
        return render(template, p.spec.region, zones=zones)

    try:
        outputs = await p.ensure_stack(
            _plan.vpc_stack_name(p.display),
            vpc_template,
            error_prefix="error creating stack with VPC template",
        )
    except ReconcileError as exc:
        raise ReconcileError(f"error generating and setting networking: {exc}") from exc
    if outputs is None:
        return False
    subnets = [s for s in outputs.get("SubnetIds", "").split(",") if s]
    if not subnets:
        raise ReconcileError("error generating and setting networking: no subnet ids were returned")
    eks.virtual_network = outputs.get("VpcId", "")
    eks.subnets = subnets
    p.status.network_fields_source = "generated"
    await p.persist()
    return True


async def _service_role(p: Pass) -> str | None:
    """createOrGetServiceRole; the role ARN, or None while its stack is being created."""
    if p.spec.service_role:
        try:
            role = await p.scope.get_role(p.spec.service_role)
        except AwsError as exc:
            raise ReconcileError(
                f"error creating or getting service role: error getting role: {exc}"
            ) from exc
        return str(role["Arn"])
    stack = _plan.service_role_stack_name(p.display)
    if not p.status.generated_service_role:
        # Recorded before the stack exists so that a delete at any later point removes it.
        p.status.generated_service_role = stack
        await p.persist()
    try:
        outputs = await p.ensure_stack(
            stack,
            lambda: render(Template.SERVICE_ROLE, p.spec.region),
            capabilities=("CAPABILITY_IAM",),
            error_prefix="error creating stack with service role template",
        )
    except ReconcileError as exc:
        raise ReconcileError(f"error creating or getting service role: {exc}") from exc
    if outputs is None:
        return None
    arn = outputs.get("RoleArn", "")
    if not arn:
        raise ReconcileError("error creating or getting service role: no RoleARN was returned")
    return arn


async def _create_cluster(p: Pass, role_arn: str) -> Next:
    if not p.status.create_request_token:
        p.status.create_request_token = str(uuid.uuid4())
        await p.persist()  # the intent survives a crash right after CreateCluster
    request = _plan.create_cluster_request(
        p.spec,
        role_arn=role_arn,
        subnets=p.status.eks_status.subnets,
        security_groups=p.status.eks_status.security_groups,
    )
    name = request.pop("name")
    role = request.pop("roleArn")
    vpc = request.pop("resourcesVpcConfig")
    try:
        await p.scope.create_cluster(
            name,
            role,
            vpc,
            version=request.get("version"),
            kubernetes_network_config=request.get("kubernetesNetworkConfig"),
            logging=request.get("logging"),
            encryption_config=request.get("encryptionConfig"),
            tags=request.get("tags"),
            access_config=request.get("accessConfig"),
            upgrade_policy=request.get("upgradePolicy"),
            deletion_protection=request.get("deletionProtection"),
            client_request_token=p.status.create_request_token,
        )
        p.event("Creating", f"EKS cluster {name} requested")
    except ResourceInUseError:
        # Ours if EKS created it with our role: we persisted the intent before the first call.
        existing = await p.scope.describe_cluster(name)
        if existing.get("roleArn") != role:
            raise ReconcileError(
                f"cannot create cluster [{p.who}] because a cluster in EKS exists with the same name"
            ) from None
        p.event("Adopted", f"EKS cluster {name} created by an earlier attempt adopted")
    except AwsError as exc:
        raise ReconcileError(f"error creating cluster: {exc}") from exc
    p.status.failure_message = ""
    return Next(Phase.CREATING, p.stack_poll())


async def wait_for_creation(p: Pass) -> Next:
    """waitForCreationComplete: ACTIVE moves on; FAILED is an error; anything else polls."""
    try:
        cluster = await p.scope.describe_cluster(p.display)
    except NotFoundError as exc:
        raise ReconcileError(f"error describing cluster: {exc}") from exc
    state = cluster.get("status") or ""
    if not state:
        raise ReconcileError("no cluster status was returned")
    if state == "FAILED":
        raise ReconcileError(
            f'creation failed for cluster named "{p.display}" with ARN "{cluster.get("arn", "")}"'
        )
    if state == "ACTIVE":
        record_endpoint(p, cluster)
        p.event("Active", "EKS cluster is active")
        return Next(Phase.ACTIVE, 0)
    return p.stay(p.wait())


def record_endpoint(p: Pass, cluster: dict[str, object]) -> None:
    """The operator's CA/endpoint secret, folded into status: recorded once, like Rancher."""
    if p.status.api_endpoint:
        return
    endpoint = str(cluster.get("endpoint") or "")
    if endpoint and not endpoint.startswith("https://"):
        endpoint = "https://" + endpoint
    ca = cluster.get("certificateAuthority") or {}
    p.status.api_endpoint = endpoint
    p.status.ca_cert = str(ca.get("data") or "") if isinstance(ca, dict) else ""
