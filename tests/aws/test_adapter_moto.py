"""Every helper against moto over loopback HTTP, plus credentials, assume-role, endpoints and the cache."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import time
from typing import Any

import moto
import pytest
from prometheus_client import generate_latest

from controlplane.aws import (
    AccessDeniedError,
    AdapterClosedError,
    AlreadyExistsError,
    AwsAdapter,
    AwsConnectionError,
    AwsCredentialSpec,
    AwsScope,
    AwsSettings,
    CredentialError,
    NotFoundError,
    ResourceInUseError,
    Template,
    render,
    stack_failure_reason,
    stack_outputs,
)
from controlplane.metrics import REGISTRY

from .conftest import CREDS, REGION, requests_total, sample

ROLE_ARN = "arn:aws:iam::123456789012:role/eks-service"


def _moto_ami() -> tuple[str, str]:
    path = os.path.join(os.path.dirname(moto.__file__), "ec2", "resources", "amis.json.gz")
    with gzip.open(path) as f:
        first = json.load(f)[0]
    return first["ami_id"], first["root_device_name"]


# --- EKS --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_eks_cluster_lifecycle(scope: AwsScope) -> None:
    ok_before = requests_total("eks", "CreateCluster", "ok")
    cluster = await scope.create_cluster(
        "c1",
        ROLE_ARN,
        {"subnetIds": ["subnet-1", "subnet-2"], "endpointPublicAccess": True},
        version="1.31",
        tags={"team": "a"},
        logging={"clusterLogging": [{"types": ["api"], "enabled": True}]},
    )
    assert cluster["name"] == "c1" and cluster["version"] == "1.31"
    assert requests_total("eks", "CreateCluster", "ok") == ok_before + 1
    described = await scope.describe_cluster("c1")
    assert described["arn"] == cluster["arn"]
    with pytest.raises(ResourceInUseError):
        await scope.create_cluster("c1", ROLE_ARN, {"subnetIds": ["subnet-1"]})
    await scope.update_cluster_config("c1", resources_vpc_config={"endpointPrivateAccess": True})
    arn = cluster["arn"]
    await scope.tag_resource(arn, {"env": "prod", "team": "b"})
    await scope.untag_resource(arn, ["team"])
    assert (await scope.describe_cluster("c1")).get("tags") == {"env": "prod"}
    deleted = await scope.delete_cluster("c1")
    assert deleted["name"] == "c1"
    before = requests_total("eks", "DescribeCluster", "not_found")
    with pytest.raises(NotFoundError) as info:
        await scope.describe_cluster("c1")
    assert "No cluster found for name: c1" in str(info.value)
    assert requests_total("eks", "DescribeCluster", "not_found") == before + 1


@pytest.mark.anyio
async def test_eks_nodegroups(scope: AwsScope) -> None:
    await scope.create_cluster("c1", ROLE_ARN, {"subnetIds": ["subnet-1"]}, version="1.31")
    # moto spends ~0.3 s per CreateNodegroup: pagination is tested against a fake server instead.
    names = [f"ng{i:03d}" for i in range(2)]
    await asyncio.gather(
        *(
            scope.create_nodegroup(
                "c1",
                n,
                "arn:aws:iam::123456789012:role/node",
                ["subnet-1"],
                scaling_config={"minSize": 1, "maxSize": 3, "desiredSize": 2},
                labels={"a": "1"},
                tags={"t": "1"},
                capacity_type="ON_DEMAND",
                disk_size=20,
            )
            for n in names
        )
    )
    assert sorted(await scope.list_nodegroups("c1")) == names
    ng = await scope.describe_nodegroup("c1", "ng000")
    assert ng["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 2}
    await scope.update_nodegroup_config("c1", "ng000", scaling_config={"desiredSize": 3})
    assert (await scope.describe_nodegroup("c1", "ng000"))["scalingConfig"]["desiredSize"] == 3
    await scope.delete_nodegroup("c1", "ng000")
    with pytest.raises(NotFoundError):
        await scope.describe_nodegroup("c1", "ng000")


# --- EC2 --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_launch_templates(scope: AwsScope) -> None:
    lt = await scope.create_launch_template(
        "rancher-managed-lt-c1",
        {"UserData": "cGxhY2Vob2xkZXIK"},
        tags={"rancher-managed-template": "do-not-modify-or-delete"},
    )
    lt_id = lt["LaunchTemplateId"]
    with pytest.raises(AlreadyExistsError):
        await scope.create_launch_template("rancher-managed-lt-c1", {"UserData": "eA=="})
    by_name = await scope.describe_launch_templates(names=["rancher-managed-lt-c1"])
    by_id = await scope.describe_launch_templates(ids=[lt_id])
    assert [t["LaunchTemplateId"] for t in by_name] == [t["LaunchTemplateId"] for t in by_id] == [lt_id]
    assert {"Key": "rancher-managed-template", "Value": "do-not-modify-or-delete"} in by_id[0]["Tags"]
    version = await scope.create_launch_template_version(lt_id, {"InstanceType": "t3.medium", "KeyName": "k"})
    assert version["VersionNumber"] == 2
    (v2,) = await scope.describe_launch_template_versions(lt_id, [2])
    assert v2["LaunchTemplateData"]["InstanceType"] == "t3.medium"
    assert len(await scope.describe_launch_template_versions(lt_id)) == 2
    with pytest.raises(NotFoundError):
        await scope.describe_launch_templates(names=["missing-template"])
    await scope.delete_launch_template(lt_id)
    with pytest.raises(NotFoundError) as info:
        await scope.describe_launch_templates(names=["rancher-managed-lt-c1"])
    assert info.value.code == "InvalidLaunchTemplateName.NotFoundException"


@pytest.mark.anyio
async def test_describe_images(scope: AwsScope) -> None:
    ami, root_device = _moto_ami()
    (image,) = await scope.describe_images([ami])
    assert image["ImageId"] == ami and image["RootDeviceName"] == root_device
    with pytest.raises(NotFoundError):
        await scope.describe_images(["ami-00000000000000000"])


# --- CloudFormation ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cloudformation_stacks(scope: AwsScope) -> None:
    body = render(Template.SERVICE_ROLE, REGION)
    stack_id = await scope.create_stack(
        "c1-eks-service-role", body, capabilities=["CAPABILITY_IAM"], tags={"displayName": "c1"}
    )
    assert stack_id.startswith("arn:aws:cloudformation:")
    with pytest.raises(AlreadyExistsError):
        await scope.create_stack("c1-eks-service-role", body, capabilities=["CAPABILITY_IAM"])
    stack = await scope.describe_stack("c1-eks-service-role")
    assert stack["Tags"] == [{"Key": "displayName", "Value": "c1"}]
    assert stack_outputs(stack)["RoleArn"].startswith("arn:aws:iam::123456789012:role/")
    assert [s["StackName"] for s in await scope.describe_stacks()] == ["c1-eks-service-role"]
    events = await scope.describe_stack_events("c1-eks-service-role")
    assert events and all(e["StackName"] == "c1-eks-service-role" for e in events)
    assert stack_failure_reason(events) == "reason unknown"
    await scope.create_stack(
        "with-params",
        render(Template.EBS_CSI_DRIVER_ROLE, REGION, oidc_issuer="oidc.eks.x.amazonaws.com/id/A"),
        capabilities=["CAPABILITY_IAM"],
        parameters={"AmazonEBSCSIDriverPolicyArn": "arn:aws:iam::aws:policy/Custom"},
    )
    (param,) = (await scope.describe_stack("with-params"))["Parameters"]
    assert param == {
        "ParameterKey": "AmazonEBSCSIDriverPolicyArn",
        "ParameterValue": "arn:aws:iam::aws:policy/Custom",
    }
    await scope.delete_stack("c1-eks-service-role")
    with pytest.raises(NotFoundError) as info:
        await scope.describe_stack("missing-stack")
    assert "does not exist" in str(info.value)


def test_stack_failure_reason_follows_the_operator() -> None:
    events = [
        {
            "LogicalResourceId": "x",
            "ResourceStatus": "ROLLBACK_IN_PROGRESS",
            "ResourceStatusReason": "rollback",
        },
        {"LogicalResourceId": "", "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "no id"},
        {"LogicalResourceId": "VPC", "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "limit"},
        {"LogicalResourceId": "Sub", "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "later"},
    ]
    assert stack_failure_reason(events) == "limit"
    assert stack_failure_reason(events[:2]) == "rollback"
    assert stack_failure_reason([]) == "reason unknown"


# --- IAM and STS ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_iam_roles_and_oidc_providers(scope: AwsScope) -> None:
    await scope.create_stack("svc", render(Template.SERVICE_ROLE, REGION), capabilities=["CAPABILITY_IAM"])
    role_arn = stack_outputs(await scope.describe_stack("svc"))["RoleArn"]
    role = await scope.get_role(role_arn.rsplit("/", 1)[1])
    assert role["Arn"] == role_arn
    with pytest.raises(NotFoundError) as info:
        await scope.get_role("no-such-role")
    assert info.value.code == "NoSuchEntity"
    assert await scope.list_open_id_connect_providers() == []
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"
    arn = await scope.create_open_id_connect_provider(issuer, ["sts.amazonaws.com"], ["a" * 40])
    assert arn.endswith("oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF")
    assert await scope.list_open_id_connect_providers() == [arn]


@pytest.mark.anyio
async def test_caller_identity_is_cached_per_identity(scope: AwsScope, aws: AwsAdapter) -> None:
    before = requests_total("sts", "GetCallerIdentity", "ok")
    results = await asyncio.gather(*(scope.get_caller_identity() for _ in range(5)))
    assert {r.account for r in results} == {"123456789012"}
    assert await scope.account_id() == "123456789012"
    # A second scope of the same credentials shares the cache; a describe reuses it for its limiter.
    await aws.scope_for(CREDS, REGION).list_clusters()
    assert requests_total("sts", "GetCallerIdentity", "ok") == before + 1


@pytest.mark.anyio
async def test_assume_role_with_external_id(aws: AwsAdapter) -> None:
    spec = AwsCredentialSpec(
        "AKIABASEKEY000000001",
        "base-secret",
        role_arn="arn:aws:iam::111122223333:role/fleet",
        external_id="ext-1",
    )
    scope = aws.scope_for(spec, REGION)
    before = requests_total("sts", "AssumeRole", "ok")
    caller = await scope.get_caller_identity()
    # moto routes assumed-role keys to the role's account: the call really used the assumed keys.
    assert caller.account == "111122223333"
    assert caller.arn == "arn:aws:sts::111122223333:assumed-role/fleet/eks-controlplane"
    await scope.create_cluster("cross", ROLE_ARN, {"subnetIds": ["subnet-1"]})
    assert await scope.list_clusters() == ["cross"]
    assert await aws.scope_for(CREDS, REGION).list_clusters() == []  # other account
    assert requests_total("sts", "AssumeRole", "ok") == before + 1  # cached, not per client
    # The signing snapshot says when the assumed session expires (it caps cached EKS tokens).
    signing = await scope.frozen_credentials()
    assert signing.expiry is not None and signing.expiry > time.time() + 15 * 60
    assert "secret" not in repr(signing) and signing.secret_key not in repr(signing)
    assert (await aws.scope_for(CREDS, REGION).frozen_credentials()).expiry is None  # long-term keys


# --- credentials by reference -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_scope_by_reference_and_default_chain(moto_url: str) -> None:
    store = {("cattle-global-data", "cc-1"): CREDS}

    async def lookup(namespace: str, name: str) -> AwsCredentialSpec | None:
        return store.get((namespace, name))

    async with AwsAdapter(AwsSettings(endpoint_url=moto_url), lookup) as aws:
        by_ref = await aws.scope("cattle-global-data:cc-1", REGION)
        assert by_ref.identity == CREDS.identity
        default = await aws.scope("", REGION)  # default chain: the environment's keys
        assert default.identity != by_ref.identity
        assert (await default.get_caller_identity()).account == "123456789012"
        with pytest.raises(CredentialError) as info:
            await aws.scope("cattle-global-data:cc-missing", REGION)
        assert (
            str(info.value)
            == 'error getting secret cattle-global-data/cc-missing: secrets "cc-missing" not found'
        )


@pytest.mark.anyio
async def test_default_chain_without_credentials(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with AwsAdapter(AwsSettings(endpoint_url=moto_url)) as aws:
        scope = await aws.scope("", REGION)
        with pytest.raises(CredentialError, match="Unable to locate credentials"):
            await scope.describe_cluster("x")


# --- endpoints --------------------------------------------------------------------------------------


def _dead_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.anyio
async def test_per_service_endpoint_setting_beats_global(moto_url: str) -> None:
    dead = _dead_port_url()
    settings = AwsSettings(
        endpoint_url=moto_url, endpoint_urls={"eks": dead}, max_attempts=1, connect_timeout=1
    )
    async with AwsAdapter(settings) as aws:
        scope = aws.scope_for(CREDS, REGION)
        assert await scope.describe_stacks() == []  # cloudformation: the global endpoint (moto)
        before = requests_total("eks", "ListClusters", "connection_error")
        with pytest.raises(AwsConnectionError) as info:
            await scope.list_clusters()
        assert dead in str(info.value)
        assert requests_total("eks", "ListClusters", "connection_error") == before + 1


@pytest.mark.anyio
async def test_botocore_endpoint_environment_variables(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _dead_port_url()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", dead)
    async with AwsAdapter(AwsSettings(max_attempts=1, connect_timeout=1)) as aws:
        scope = aws.scope_for(CREDS, REGION)
        assert (await scope.get_caller_identity()).account == "123456789012"  # AWS_ENDPOINT_URL
        with pytest.raises(AwsConnectionError):
            await scope.list_clusters()  # AWS_ENDPOINT_URL_EKS
    # An explicit setting wins over the environment.
    async with AwsAdapter(AwsSettings(endpoint_urls={"eks": moto_url})) as aws:
        assert await aws.scope_for(CREDS, REGION).list_clusters() == []


# --- client cache and lifecycle ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_client_cache_is_bounded_and_closes_evicted_clients(moto_url: str) -> None:
    gauge_before = sample("controlplane_aws_clients")
    async with AwsAdapter(AwsSettings(endpoint_url=moto_url, client_cache_size=2)) as aws:
        closed: list[object] = []
        close = aws._close_client

        async def tracking_close(client: object) -> None:
            closed.append(client)
            await close(client)

        aws._clients._closer = tracking_close
        regions = ["us-east-1", "us-west-2", "eu-west-1"]
        for region in regions:  # one STS client (the account is cached per identity), 3 EKS clients
            await aws.scope_for(CREDS, region).list_clusters()
        assert aws.open_clients == 2
        assert sample("controlplane_aws_clients") == gauge_before + 2
        assert len(closed) == 2
        # A burst of concurrent calls through a tiny cache never uses a closed client.
        await asyncio.gather(*(aws.scope_for(CREDS, r).list_clusters() for r in regions * 5))
    assert sample("controlplane_aws_clients") == gauge_before
    with pytest.raises(AdapterClosedError):
        aws.scope_for(CREDS, REGION)


@pytest.mark.anyio
async def test_adapter_lifecycle_misuse(moto_url: str) -> None:
    adapter = AwsAdapter(AwsSettings(endpoint_url=moto_url))
    with pytest.raises(AdapterClosedError, match="is new"):
        adapter.scope_for(CREDS, REGION)
    async with adapter:
        scope = adapter.scope_for(CREDS, REGION)
        with pytest.raises(ValueError, match="region"):
            adapter.scope_for(CREDS, "")
    with pytest.raises(AdapterClosedError, match="closed"):
        await scope.list_clusters()
    with pytest.raises(RuntimeError, match="opened once"):
        async with adapter:
            pass


@pytest.mark.anyio
async def test_secrets_never_reach_errors_or_metrics(moto_url: str) -> None:
    secret = "VERY-SECRET-VALUE-123"
    spec = AwsCredentialSpec("AKIASECRETTEST000001", secret, session_token="SESSION-TOKEN-456")
    async with AwsAdapter(AwsSettings(endpoint_url=moto_url)) as aws:
        scope = aws.scope_for(spec, REGION)
        with pytest.raises(NotFoundError) as info:
            await scope.describe_cluster("nope")
        assert secret not in str(info.value) and secret not in repr(scope)
    exposition = generate_latest(REGISTRY).decode()
    assert secret not in exposition and "SESSION-TOKEN-456" not in exposition
    assert "AKIASECRETTEST" not in exposition


def test_access_denied_is_typed() -> None:
    assert AccessDeniedError.outcome == "access_denied"


@pytest.mark.anyio
async def test_default_region_is_botocores(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    async with AwsAdapter() as aws:
        assert aws.default_region == ""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-southeast-2\n\n[profile other]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    async with AwsAdapter() as aws:
        assert aws.default_region == "ap-southeast-2"
    monkeypatch.setenv("AWS_PROFILE", "other")
    async with AwsAdapter() as aws:
        assert aws.default_region == "sa-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    async with AwsAdapter() as aws:
        assert aws.default_region == "eu-west-3"
