"""The example of the new fields (config/examples/05-beyond-rancher.yaml) is valid and converges."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import World, converged

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).parents[2] / "config" / "examples" / "05-beyond-rancher.yaml"


async def test_the_example_converges_with_every_feature_in_aws(world: World) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["eksConfig"]["amazonCredentialSecret"] = "default:test"
    await world.apply(doc)
    c = await world.wait_for("demo-beyond", converged, timeout=60, what="converged")
    assert c.status.service_account_token_secret and not c.status.failure_message
    aws = await world.sim_cluster("demo-beyond")
    assert aws["authenticationMode"] == "API_AND_CONFIG_MAP" and aws["deletionProtection"] is True
    assert aws["supportType"] == "STANDARD"
    assert {e["principalArn"].rsplit("/", 1)[-1] for e in aws["accessEntries"]} >= {
        "platform-admins",
        "team-a-developers",
    }
    assert {a["name"] for a in aws["addons"]} == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
    }
    assert [f["name"] for f in aws["fargateProfiles"]] == ["batch"]
    assert aws["nodegroups"][0]["taints"] == [
        {"key": "dedicated", "value": "general", "effect": "PREFER_NO_SCHEDULE"}
    ]
