"""The fast path of the hot EKS reads (``controlplane.aws._fastpath``): the same results, errors,
retries and metrics as botocore, against the EKS simulator and a SigV4-verifying endpoint."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import botocore.session
import msgspec
import pytest
from aiohttp import web
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError, RestJSONParser
from botocore.retries.standard import ExponentialBackoff

from controlplane.aws import (
    AccessDeniedError,
    AwsAdapter,
    AwsConnectionError,
    AwsCredentialSpec,
    AwsError,
    AwsScope,
    AwsSettings,
    NotFoundError,
    ServerError,
    ThrottledError,
)
from controlplane.aws._errors import classify
from controlplane.aws._fastpath import (
    FastReads,
    drop_null_members,
    error_code_and_message,
    fast_path,
    page_query,
)
from controlplane.aws._operations import OPERATIONS
from controlplane.sim import SimSettings, Simulator

from .conftest import CREDS, requests_total, sample

REGION = "us-west-2"  # the simulator's default region: control-API clusters live there
ROLE = "arn:aws:iam::123456789012:role/eks"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths use botocore's ExponentialBackoff; tests need not sleep up to 2^n seconds."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimSettings(time_scale=0.01, kube_endpoints=False)) as server:
        yield server


async def _control(sim: Simulator, method: str, path: str, doc: Any) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{sim.url}{path}", data=msgspec.json.encode(doc)) as resp,
    ):
        assert resp.status in (200, 201), await resp.text()
        return msgspec.json.decode(await resp.read())


@pytest.fixture
async def scopes(sim: Simulator) -> AsyncIterator[tuple[AwsScope, AwsScope]]:
    """(fast, botocore) scopes on the same simulator and credentials."""
    async with (
        AwsAdapter(AwsSettings(endpoint_url=sim.url)) as fast,
        AwsAdapter(AwsSettings(endpoint_url=sim.url, fast_reads=False)) as slow,
    ):
        yield fast.scope_for(CREDS, REGION), slow.scope_for(CREDS, REGION)


def _plain(value: Any) -> Any:
    """``value`` with botocore's datetimes turned back into the epoch numbers AWS sent, and every
    timestamp rounded to the millisecond (datetimes keep microseconds only)."""
    if isinstance(value, datetime.datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- pure pieces ------------------------------------------------------------------------------------


def test_paths_are_built_and_encoded_like_botocore() -> None:
    def path(operation: str, /, **request: Any) -> str | None:
        return fast_path(OPERATIONS[("eks", operation)], request)

    assert path("DescribeCluster", name="c1") == "/clusters/c1"
    assert path("DescribeCluster", name="a b/c") == "/clusters/a%20b%2Fc"
    assert path("ListNodegroups", clusterName="c1") == "/clusters/c1/node-groups"
    assert path("DescribeNodegroup", clusterName="c1", nodegroupName="n~1") == "/clusters/c1/node-groups/n~1"
    assert path("DescribeAddon", clusterName="c1", addonName="vpc-cni") == "/clusters/c1/addons/vpc-cni"
    # Anything unusual is botocore's to validate or serialize.
    assert path("DescribeCluster", name="") is None
    assert path("DescribeNodegroup", clusterName="c1") is None
    assert path("ListNodegroups", clusterName="c1", maxResults=5) is None
    assert path("ListAddons", clusterName="c1") == "/clusters/c1/addons"
    assert path("ListAccessEntries", clusterName="c 1") == "/clusters/c%201/access-entries"
    assert path("ListPodIdentityAssociations", clusterName="c1") == "/clusters/c1/pod-identity-associations"
    assert path("ListFargateProfiles", clusterName="c1") == "/clusters/c1/fargate-profiles"
    assert path("ListUpdates", name="c1") == "/clusters/c1/updates"
    assert path("ListUpdates", name="c1", nodegroupName="a") is None
    # A filter is a query parameter botocore serializes: not the fast path's.
    assert path("ListPodIdentityAssociations", clusterName="c1", namespace="kube-system") is None
    assert path("ListAccessEntries", clusterName="c1", associatedPolicyArn="arn:p") is None
    assert path("DescribeUpdate", name="c1", updateId="u") is None
    assert fast_path(OPERATIONS[("sts", "GetCallerIdentity")], {}) is None
    assert page_query(None) == "maxResults=100"
    assert page_query("a/b=c", 7) == "maxResults=7&nextToken=a%2Fb%3Dc"


def test_error_code_and_message_are_read_like_botocore() -> None:
    body = b'{"message": "No cluster found for name: x."}'
    header = {"x-amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/coral/"}
    found = ("ResourceNotFoundException", "No cluster found for name: x.")
    assert error_code_and_message(404, header, body) == found
    typed = b'{"__type": "com.amazonaws.eks#ThrottlingException", "Message": "slow down"}'
    assert error_code_and_message(429, {}, typed) == ("ThrottlingException", "slow down")
    assert error_code_and_message(400, {}, b'{"code": "Bad", "message": "m"}') == ("Bad", "m")
    # Bodies that are not EKS's JSON (a proxy or load balancer answered): as botocore reads them.
    parser = RestJSONParser()
    shape = botocore.session.get_session().get_service_model("eks").operation_model("DescribeCluster")
    for status, raw in [
        (502, b"<html><body><b>Bad Gateway</b></body></html>"),
        (503, b""),
        (503, b"  \n"),
        (504, b"<html>gateway timeout</html>\n"),
        (500, b"<!DOCTYPE html><html><body>oops</body></html>"),  # not "generic" for botocore
        (403, b"<html><body>Forbidden by proxy</body></html>"),
        (400, b"not json at all"),
    ]:
        expected = parser.parse({"body": raw, "headers": {}, "status_code": status}, shape.output_shape)
        error = expected["Error"]
        assert error_code_and_message(status, {}, raw) == (error["Code"], error["Message"]), raw
    assert error_code_and_message(502, {}, b"<html>bad gateway</html>") == ("502", "Bad Gateway")
    assert error_code_and_message(503, {}, b"") == ("503", "Service Unavailable")


# --- parity with botocore against the simulator ----------------------------------------------------


@pytest.mark.anyio
async def test_reads_return_what_botocore_returns(sim: Simulator, scopes: tuple[AwsScope, AwsScope]) -> None:
    fast, slow = scopes
    spec = {"name": "c1", "version": "1.30", "nodegroups": [{"name": "a"}, {"name": "b"}]}
    await _control(sim, "POST", "/_sim/clusters", spec)
    await slow.create_addon("c1", "aws-ebs-csi-driver", service_account_role_arn=ROLE)

    cluster = await fast.describe_cluster("c1")
    assert isinstance(cluster["createdAt"], float | int)  # the fast path served it: no datetime
    assert isinstance((await slow.describe_cluster("c1"))["createdAt"], datetime.datetime)
    assert _plain(cluster) == _plain(await slow.describe_cluster("c1"))
    assert cluster["name"] == "c1" and cluster["version"] == "1.30"

    assert await fast.list_nodegroups("c1") == await slow.list_nodegroups("c1") == ["a", "b"]
    for ng in ("a", "b"):
        nodegroup = await fast.describe_nodegroup("c1", ng)
        assert _plain(nodegroup) == _plain(await slow.describe_nodegroup("c1", ng))
        assert nodegroup["nodegroupName"] == ng
    addon = await fast.describe_addon("c1", "aws-ebs-csi-driver")
    assert _plain(addon) == _plain(await slow.describe_addon("c1", "aws-ebs-csi-driver"))
    assert addon["addonName"] == "aws-ebs-csi-driver"


@pytest.mark.anyio
async def test_list_nodegroups_reads_every_page(sim: Simulator, scopes: tuple[AwsScope, AwsScope]) -> None:
    fast, slow = scopes
    names = [f"ng-{i:03d}" for i in range(230)]
    await _control(sim, "POST", "/_sim/clusters", {"name": "big", "nodegroups": [{"name": n} for n in names]})
    await _control(sim, "DELETE", "/_sim/calls", {})
    ok = requests_total("eks", "ListNodegroups", "ok")
    assert await fast.list_nodegroups("big") == names
    assert requests_total("eks", "ListNodegroups", "ok") == ok + 3  # 100 + 100 + 30, each page counted
    calls = await _control(sim, "GET", "/_sim/calls", None)
    assert calls["eks"]["ListNodegroups"] == 3
    assert await slow.list_nodegroups("big") == names


@pytest.mark.anyio
async def test_a_clusters_other_lists_read_every_page_and_match_botocore(
    sim: Simulator, scopes: tuple[AwsScope, AwsScope], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = scopes
    served: list[tuple[str, str]] = []
    original = FastReads.get

    async def spy(
        self: FastReads, key: Any, client: Any, transport: Any, op: Any, path: str, query: str = ""
    ) -> Any:
        served.append((op.name, query))
        return await original(self, key, client, transport, op, path, query)

    monkeypatch.setattr(FastReads, "get", spy)
    spec = {"name": "c2", "version": "1.30", "authenticationMode": "API_AND_CONFIG_MAP"}
    await _control(sim, "POST", "/_sim/clusters", spec)
    principals = [f"arn:aws:iam::123456789012:role/r-{i:03d}" for i in range(130)]
    for arn in principals:
        await slow.create_access_entry("c2", arn)
    await slow.create_addon("c2", "eks-pod-identity-agent")
    await slow.create_pod_identity_association("c2", "default", "app", ROLE)
    await slow.create_fargate_profile("c2", "fp", ROLE, selectors=[{"namespace": "batch"}])
    update = await slow.update_cluster_version("c2", "1.31")
    await _control(sim, "DELETE", "/_sim/calls", {})
    entries = await fast.list_access_entries("c2")
    assert set(entries) - set(principals) == {ROLE}  # EKS adds the creator's own entry in API modes
    assert entries == await slow.list_access_entries("c2")
    assert await fast.list_addons("c2") == await slow.list_addons("c2") == ["eks-pod-identity-agent"]
    associations = await fast.list_pod_identity_associations("c2")
    assert [(a["namespace"], a["serviceAccount"]) for a in associations] == [("default", "app")]
    assert _plain(associations) == _plain(await slow.list_pod_identity_associations("c2"))
    assert await fast.list_fargate_profiles("c2") == await slow.list_fargate_profiles("c2") == ["fp"]
    assert await fast.list_updates("c2") == await slow.list_updates("c2") == [update["id"]]
    addon_updates = await fast.list_updates("c2", addon_name="eks-pod-identity-agent")
    assert addon_updates == await slow.list_updates("c2", addon_name="eks-pod-identity-agent")
    # Each page one GET; the fast path asked for pages of 100, botocore for EKS's default size.
    calls = await _control(sim, "GET", "/_sim/calls", None)
    pages = -(-len(entries) // 100)
    assert calls["eks"]["ListAccessEntries"] >= pages + 1
    assert calls["eks"]["ListAddons"] == calls["eks"]["ListFargateProfiles"] == 2
    # The fast scope's reads were the fast path's: pages of 100, the second asked for by its token.
    fast_ops = [op for op, _ in served]
    assert fast_ops.count("ListAccessEntries") == pages
    lists = ("ListAddons", "ListPodIdentityAssociations", "ListFargateProfiles", "ListUpdates")
    assert [fast_ops.count(op) for op in lists] == [1, 1, 1, 1]  # an add-on's updates: botocore's
    assert all(q.startswith("maxResults=100") for _, q in served)
    assert sum("nextToken=" in q for op, q in served if op == "ListAccessEntries") == pages - 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.describe_cluster("nope"), "No cluster found for name: nope."),
        (lambda s: s.describe_nodegroup("c1", "nope"), "No node group found for name: nope."),
        (lambda s: s.describe_addon("c1", "nope"), "nope"),
        (lambda s: s.list_nodegroups("nope"), "No cluster found for name: nope."),
    ],
)
async def test_not_found_has_the_same_class_and_message(
    sim: Simulator,
    scopes: tuple[AwsScope, AwsScope],
    call: Callable[[AwsScope], Awaitable[Any]],
    message: str,
) -> None:
    fast, slow = scopes
    await _control(sim, "POST", "/_sim/clusters", {"name": "c1"})
    errors: list[AwsError] = []
    for scope in (fast, slow):
        with pytest.raises(NotFoundError) as info:
            await call(scope)
        errors.append(info.value)
    one, two = errors
    assert str(one) == str(two) and message in str(one)
    assert (one.code, one.status, one.aws_message) == (two.code, two.status, two.aws_message)
    assert one.code == "ResourceNotFoundException" and one.status == 404 and one.request_id


async def _faults(sim: Simulator, **faults: Any) -> None:
    await _control(sim, "PUT", "/_sim/faults", {"services": ["eks"], "seed": 7, **faults})


@pytest.mark.anyio
async def test_throttling_is_retried_counted_and_raised_like_botocore(
    sim: Simulator, scopes: tuple[AwsScope, AwsScope]
) -> None:
    fast, slow = scopes
    await _control(sim, "POST", "/_sim/clusters", {"name": "c1"})
    await fast.get_caller_identity()  # STS (moto) before the faults: they apply to EKS only
    await slow.get_caller_identity()
    await _faults(sim, throttle_probability=1.0)
    errors: list[AwsError] = []
    for scope in (fast, slow):
        throttles = sample("controlplane_aws_throttles_total", service="eks")
        retries = sample("controlplane_aws_retries_total", service="eks")
        throttled = requests_total("eks", "DescribeCluster", "throttled")
        with pytest.raises(ThrottledError) as info:
            await scope.describe_cluster("c1")
        errors.append(info.value)
        assert sample("controlplane_aws_throttles_total", service="eks") == throttles + 3
        assert sample("controlplane_aws_retries_total", service="eks") == retries + 2
        assert requests_total("eks", "DescribeCluster", "throttled") == throttled + 1
    assert str(errors[0]) == str(errors[1])
    assert "(reached max retries: 2)" in str(errors[0]) and errors[0].code == "TooManyRequestsException"

    # Half the answers throttled (seeded): the fast path retries its way through like botocore.
    await _faults(sim, throttle_probability=0.5)
    await _control(sim, "DELETE", "/_sim/calls", {})
    throttles = sample("controlplane_aws_throttles_total", service="eks")
    retries = sample("controlplane_aws_retries_total", service="eks")
    got = 0
    for _ in range(20):
        try:
            await fast.describe_cluster("c1")
            got += 1
        except ThrottledError:
            pass
    calls = await _control(sim, "GET", "/_sim/calls", None)
    thrown = sample("controlplane_aws_throttles_total", service="eks") - throttles
    assert got >= 15 and thrown > 0
    assert calls["_faults"]["throttle"] == thrown
    retried = sample("controlplane_aws_retries_total", service="eks") - retries
    assert calls["eks"]["DescribeCluster"] == 20 + retried


@pytest.mark.anyio
async def test_server_errors_and_resets_are_retried(
    sim: Simulator, scopes: tuple[AwsScope, AwsScope]
) -> None:
    fast, slow = scopes
    await _control(sim, "POST", "/_sim/clusters", {"name": "c1", "nodegroups": [{"name": "a"}]})
    await fast.get_caller_identity()
    await slow.get_caller_identity()
    await _faults(sim, error_probability=1.0, error_status=503)
    errors: list[AwsError] = []
    for scope in (fast, slow):
        await _control(sim, "DELETE", "/_sim/calls", {})
        before = requests_total("eks", "DescribeNodegroup", "server_error")
        with pytest.raises(ServerError) as info:
            await scope.describe_nodegroup("c1", "a")
        errors.append(info.value)
        assert requests_total("eks", "DescribeNodegroup", "server_error") == before + 1
        assert (await _control(sim, "GET", "/_sim/calls", None))["eks"]["DescribeNodegroup"] == 3
    assert str(errors[0]) == str(errors[1]) and errors[0].status == 503

    await _faults(sim, reset_probability=1.0)
    sent: list[int] = []
    for scope in (fast, slow):
        await _control(sim, "DELETE", "/_sim/calls", {})
        with pytest.raises(AwsConnectionError) as conn:
            await scope.describe_cluster("c1")
        assert f"{sim.url}/clusters/c1" in str(conn.value)
        sent.append((await _control(sim, "GET", "/_sim/calls", None))["eks"]["DescribeCluster"])
    # 3 attempts; aiohttp itself resends an idempotent request once when a kept-alive connection
    # is reset, on both paths alike.
    assert sent[0] == sent[1] and sent[0] >= 3

    # One reset, then answers: retried through, and the retry is counted.
    await _faults(sim, reset_probability=0.5)
    retries = sample("controlplane_aws_retries_total", service="eks")
    for _ in range(10):
        assert (await fast.describe_cluster("c1"))["name"] == "c1"
    assert sample("controlplane_aws_retries_total", service="eks") > retries


@pytest.mark.anyio
async def test_setting_off_or_adaptive_retries_use_botocore(sim: Simulator) -> None:
    await _control(sim, "POST", "/_sim/clusters", {"name": "c1"})
    for settings in (
        AwsSettings(endpoint_url=sim.url, fast_reads=False),
        AwsSettings(endpoint_url=sim.url, retry_mode="adaptive"),
    ):
        async with AwsAdapter(settings) as aws:
            cluster = await aws.scope_for(CREDS, REGION).describe_cluster("c1")
            assert isinstance(cluster["createdAt"], datetime.datetime)


@pytest.mark.anyio
async def test_closed_adapter_refuses_fast_reads(sim: Simulator) -> None:
    async with AwsAdapter(AwsSettings(endpoint_url=sim.url)) as aws:
        scope = aws.scope_for(CREDS, REGION)
    with pytest.raises(RuntimeError, match="closed"):
        await scope.describe_cluster("c1")


# --- signatures ---------------------------------------------------------------------------------------

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_valid(request: web.BaseRequest, secrets: dict[str, str], body: bytes = b"") -> bool:
    """An independent SigV4 check (AWS's documented algorithm, not botocore's code)."""
    match = _AUTH.match(request.headers.get("Authorization", ""))
    if match is None:
        return False
    akid, date, region, service, signed, signature = match.groups()
    secret = secrets.get(akid)
    amz_date = request.headers.get("X-Amz-Date", "")
    if secret is None or not amz_date.startswith(date) or "host" not in signed.split(";"):
        return False
    path, _, query = request.raw_path.partition("?")
    pairs = sorted(tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p)
    canonical = "\n".join(
        [
            request.method,
            quote(path, safe="/~"),  # non-S3 services: the encoded path is encoded once more
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{h}:{' '.join(request.headers.get(h, '').split())}\n" for h in signed.split(";")),
            signed,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@pytest.fixture
async def verifier() -> AsyncIterator[tuple[str, dict[str, str], list[str]]]:
    """An EKS endpoint that answers only correctly signed requests: (url, secrets, paths seen)."""
    secrets: dict[str, str] = {}
    seen: list[str] = []

    async def handle(request: web.BaseRequest) -> web.Response:
        seen.append(request.raw_path)
        if not sigv4_valid(request, secrets, await request.read()):
            return web.json_response(
                {"message": "The request signature we calculated does not match the signature you provided."},
                status=403,
                headers={"x-amzn-ErrorType": "InvalidSignatureException"},
            )
        name = request.raw_path.split("?")[0].split("/")[2]
        return web.json_response({"cluster": {"name": name, "status": "ACTIVE"}})

    server = web.Server(handle)
    runner = web.ServerRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", secrets, seen
    finally:
        await runner.cleanup()


@pytest.mark.anyio
@pytest.mark.parametrize("token", [None, "session-token/with+odd=chars"])
async def test_signature_is_accepted_and_a_wrong_secret_rejected(
    moto_url: str, verifier: tuple[str, dict[str, str], list[str]], token: str | None
) -> None:
    url, secrets, seen = verifier
    good = AwsCredentialSpec("AKIAFASTPATH00000001", "right-secret", session_token=token)
    bad = AwsCredentialSpec("AKIAFASTPATH00000001", "wrong-secret", session_token=token)
    secrets[good.access_key_id] = "right-secret"
    for fast_reads in (False, True):  # botocore's signature validates the verifier itself
        settings = AwsSettings(endpoint_url=moto_url, endpoint_urls={"eks": url}, fast_reads=fast_reads)
        async with AwsAdapter(settings) as aws:
            cluster = await aws.scope_for(good, REGION).describe_cluster("odd name~1")
            assert cluster["name"] == "odd%20name~1"
            assert isinstance(cluster, dict)
            with pytest.raises(AccessDeniedError) as info:
                await aws.scope_for(bad, REGION).describe_cluster("c1")
            assert "signature we calculated does not match" in str(info.value)
            assert info.value.code == "InvalidSignatureException"
    assert seen.count("/clusters/odd%20name~1") == 2


# --- null members ---------------------------------------------------------------------------------------


@pytest.fixture
async def canned() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """An EKS endpoint answering each path with a canned body, or a (status, body): (url, answers)."""
    bodies: dict[str, Any] = {}

    async def handle(request: web.BaseRequest) -> web.Response:
        answer = bodies[request.path]
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        kind = "application/json" if body.startswith(b"{") else "text/html"
        return web.Response(body=body, status=status, content_type=kind)

    runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", bodies
    finally:
        await runner.cleanup()


@pytest.mark.anyio
async def test_null_members_are_dropped_like_botocore_drops_them(
    moto_url: str, canned: tuple[str, dict[str, Any]]
) -> None:
    url, bodies = canned
    nodegroup = {
        "nodegroupName": "ng1",
        "status": "ACTIVE",
        "diskSize": None,
        "taints": [
            {"key": "a", "value": None, "effect": "NO_SCHEDULE"},
            {"key": "b", "value": "v", "effect": "NO_EXECUTE"},
        ],
        "labels": {"x": "1"},
        "launchTemplate": None,
        "notInTheModel": None,
    }
    bodies["/clusters/c1/node-groups/ng1"] = msgspec.json.encode({"nodegroup": nodegroup})
    results = []
    for fast_reads in (True, False):
        settings = AwsSettings(endpoint_url=moto_url, endpoint_urls={"eks": url}, fast_reads=fast_reads)
        async with AwsAdapter(settings) as aws:
            results.append(await aws.scope_for(CREDS, REGION).describe_nodegroup("c1", "ng1"))
    fast, slow = results
    assert fast == slow
    assert fast["taints"] == [
        {"key": "a", "effect": "NO_SCHEDULE"},
        {"key": "b", "value": "v", "effect": "NO_EXECUTE"},
    ]
    assert "diskSize" not in fast and "launchTemplate" not in fast


def test_drop_null_members_keeps_map_values_and_list_items_like_botocore() -> None:
    model = botocore.session.get_session().get_service_model("eks")
    shape = model.operation_model("DescribeNodegroup").output_shape
    body = {"nodegroup": {"labels": {"k": None}, "instanceTypes": [None], "diskSize": None, "version": "1"}}
    response = {"body": msgspec.json.encode(body), "headers": {}, "status_code": 200}
    parsed = RestJSONParser().parse(response, shape)
    parsed.pop("ResponseMetadata")
    assert drop_null_members(shape, body) == parsed
    assert parsed == {"nodegroup": {"labels": {"k": None}, "instanceTypes": [None], "version": "1"}}
    assert drop_null_members(None, {"a": None, "b": {"c": None}}) == {"b": {}}


@pytest.mark.anyio
async def test_non_json_error_bodies_give_botocore_messages_never_html(
    moto_url: str, canned: tuple[str, dict[str, Any]]
) -> None:
    url, bodies = canned
    page = b"<!DOCTYPE html>\n<html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>"
    bodies["/clusters/html"] = (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    bodies["/clusters/empty"] = (503, b"")
    bodies["/clusters/doctype"] = (502, page)
    bodies["/clusters/proxy"] = (403, b"<html><body>Access denied by the proxy</body></html>")
    messages: dict[str, list[str]] = {}
    for fast_reads in (True, False):
        settings = AwsSettings(
            endpoint_url=moto_url, endpoint_urls={"eks": url}, fast_reads=fast_reads, max_attempts=1
        )
        async with AwsAdapter(settings) as aws:
            scope = aws.scope_for(CREDS, REGION)
            for name in ("html", "empty", "doctype", "proxy"):
                with pytest.raises(AwsError) as info:
                    await scope.describe_cluster(name)
                assert "<" not in str(info.value) and "<" not in info.value.aws_message, str(info.value)
                messages.setdefault(name, []).append(str(info.value))
    for name, (fast, slow) in messages.items():
        assert fast == slow, name
    assert messages["html"][0].endswith(": Bad Gateway")
    assert messages["empty"][0].endswith(": Service Unavailable")
    assert "Bad Gateway" in messages["doctype"][0]
    assert "Forbidden" in messages["proxy"][0]


def test_classify_never_shows_a_page_of_html() -> None:
    page = "<html><body>" + "x" * 5000 + "</body></html>"
    error = ClientError(
        {"Error": {"Code": "502", "Message": page}, "ResponseMetadata": {"HTTPStatusCode": 502}},
        "DescribeStacks",
    )
    classified = classify(error, "cloudformation", "DescribeStacks")
    assert isinstance(classified, ServerError)
    assert str(classified) == (
        "An error occurred (502) when calling the DescribeStacks operation: "
        "Bad Gateway (an HTML page instead of an AWS answer)"
    )
    unparsed = ResponseParserError(
        "Unable to parse response (syntax error), invalid XML received. Further retries may succeed:\n"
        + str(page.encode())
    )
    assert "<" not in str(classify(unparsed, "ec2", "DescribeImages"))
    plain = ClientError({"Error": {"Code": "X", "Message": "a < b"}, "ResponseMetadata": {}}, "Op")
    assert str(classify(plain)) == str(plain)
