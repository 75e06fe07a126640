"""Manifest decoding (both forms, YAML and JSON) and encoding, including YAML's implicit-typing traps."""

from __future__ import annotations

import json

import msgspec
import pytest

from controlplane.api import (
    MAX_MANIFEST_NODES,
    Cluster,
    ClusterSpec,
    ClusterStatus,
    EKSClusterConfigSpec,
    ManifestError,
    Metadata,
    NodeGroup,
    Phase,
    SyncPolicy,
    convert_manifest,
    decode_cluster,
    decode_manifests,
    encode_json,
    encode_yaml,
    encode_yaml_all,
)

NATIVE = """\
apiVersion: eks-controlplane.io/v1
kind: Cluster
metadata:
  name: prod-use1
  labels: {team: core}
spec:
  syncPolicy: desired-wins
  eksConfig:
    displayName: prod-use1
    region: us-east-1
    kubernetesVersion: "1.30"
    tags: {}
    loggingTypes: []
    nodeGroups:
      - nodegroupName: ng1
        desiredSize: 2
        labels: {role: "yes"}
"""

RANCHER = """\
apiVersion: eks.cattle.io/v1
kind: EKSClusterConfig
metadata:
  name: c-r64vb
  namespace: cattle-global-data
  uid: 1b7a4c1e-0000-4000-8000-000000000000
  resourceVersion: "123"
  generation: 4
  creationTimestamp: 2024-05-01T10:00:00Z
  finalizers: [wrangler.cattle.io/eks-controller-remove]
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}
  labels: {owner: me}
spec:
  amazonCredentialSecret: cattle-global-data:cc-abc
  displayName: imported-one
  region: eu-west-1
  imported: true
  nodeGroups: null
  subnets: []
status:
  phase: active
  failureMessage: ""
"""


def test_native_yaml() -> None:
    (c,) = decode_manifests(NATIVE)
    assert c.metadata == Metadata(name="prod-use1", labels={"team": "core"})
    assert c.spec.sync_policy is SyncPolicy.DESIRED_WINS
    eks = c.spec.eks_config
    assert eks.kubernetes_version == "1.30"
    assert eks.tags == {} and eks.logging_types == [] and eks.subnets is None
    assert eks.node_groups == [NodeGroup(nodegroup_name="ng1", desired_size=2, labels={"role": "yes"})]


def test_rancher_form_is_converted() -> None:
    (c,) = decode_manifests(RANCHER.encode())
    assert c.api_version == "eks-controlplane.io/v1" and c.kind == "Cluster"
    assert c.metadata == Metadata(name="c-r64vb", labels={"owner": "me"})
    assert c.spec.sync_policy is SyncPolicy.THREE_WAY
    assert c.spec.eks_config == EKSClusterConfigSpec(
        amazon_credential_secret="cattle-global-data:cc-abc",
        display_name="imported-one",
        region="eu-west-1",
        imported=True,
        subnets=[],
    )
    assert c.status == ClusterStatus()  # status dropped


def test_multi_document_yaml_mixed_forms_and_empty_documents() -> None:
    clusters = decode_manifests(f"---\n{NATIVE}---\n---\n{RANCHER}...\n")
    assert [c.metadata.name for c in clusters] == ["prod-use1", "c-r64vb"]


def test_json_object_and_array() -> None:
    doc = {"apiVersion": "eks-controlplane.io/v1", "kind": "Cluster", "metadata": {"name": "a"}}
    assert decode_cluster(json.dumps(doc).encode()).metadata.name == "a"
    two = json.dumps([doc, {**doc, "metadata": {"name": "b"}}], indent="\t")  # tabs: not YAML-parsable
    assert [c.metadata.name for c in decode_manifests(two)] == ["a", "b"]
    assert decode_manifests(b"\xef\xbb\xbf" + json.dumps(doc).encode())[0].metadata.name == "a"  # BOM


def test_yaml_flow_mapping_is_not_mistaken_for_json() -> None:
    c = decode_cluster("{apiVersion: eks-controlplane.io/v1, kind: Cluster, metadata: {name: flow}}")
    assert c.metadata.name == "flow"


def test_status_of_a_native_manifest_is_kept() -> None:
    c = Cluster(metadata=Metadata(name="x"), status=ClusterStatus(phase=Phase.ACTIVE, failure_message="boom"))
    assert decode_cluster(encode_yaml(c)).status == c.status


def _error(data: str | bytes) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        decode_manifests(data)
    return info.value


def test_field_errors_name_the_path_and_the_document() -> None:
    bad = NATIVE.replace("desiredSize: 2", 'desiredSize: "2"')
    err = _error(f"{NATIVE}---\n{bad}")
    assert err.index == 1
    assert err.message == "Expected `int | null`, got `str` - at `$.spec.eksConfig.nodeGroups[0].desiredSize`"
    assert str(err) == f"document 1: {err.message}"


def test_unknown_fields_are_refused_by_name() -> None:
    err = _error(NATIVE.replace("    region: us-east-1\n", "    region: us-east-1\n    regoin: x\n"))
    assert err.message == "Object contains unknown field `regoin` - at `$.spec.eksConfig`"
    err = _error(RANCHER.replace("  namespace:", "  clusterName: x\n  namespace:"))
    assert err.message == "Object contains unknown field `clusterName` - at `$.metadata`"
    err = _error(RANCHER.replace("  imported: true", "  imported: true\n  nodePools: []"))
    assert err.message == "Object contains unknown field `nodePools` - at `$.spec`"
    err = _error(NATIVE.replace("  name: prod-use1", "  name: prod-use1\n  namespace: default"))
    assert err.message == "Object contains unknown field `namespace` - at `$.metadata`"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            "apiVersion: v1\nkind: Secret\n",
            "unsupported apiVersion 'v1' kind 'Secret'; expected apiVersion eks-controlplane.io/v1 "
            "kind Cluster "
            "or apiVersion eks.cattle.io/v1 kind EKSClusterConfig",
        ),
        (
            "apiVersion: eks.cattle.io/v1\nkind: Cluster\n",
            "unsupported apiVersion 'eks.cattle.io/v1' kind 'Cluster'; expected apiVersion "
            "eks-controlplane.io/v1 "
            "kind Cluster or apiVersion eks.cattle.io/v1 kind EKSClusterConfig",
        ),
        (
            "kind: Cluster\n",
            "missing `apiVersion`; expected apiVersion eks-controlplane.io/v1 kind Cluster or apiVersion "
            "eks.cattle.io/v1 kind EKSClusterConfig",
        ),
        ("- a\n- b\n", "a manifest must be a mapping, got a list"),
        ("just text\n", "a manifest must be a mapping, got a string"),
        (
            "apiVersion: eks.cattle.io/v1\nkind: EKSClusterConfig\nmetadata: {name: x}\n",
            "Object missing required field `spec`",
        ),
    ],
)
def test_kind_and_shape_errors(doc: str, message: str) -> None:
    assert _error(doc).message == message


def test_yaml_syntax_error_names_the_document() -> None:
    err = _error(f"{NATIVE}---\nmetadata: [unclosed\n")
    assert err.index == 1 and err.message.startswith("invalid YAML: ")


def test_duplicate_keys_are_refused() -> None:
    err = _error(
        NATIVE.replace("        desiredSize: 2\n", "        desiredSize: 2\n        desiredSize: 3\n")
    )
    assert "found duplicate key 'desiredSize'" in err.message
    err = _error('{"apiVersion": "eks-controlplane.io/v1", "kind": "Cluster", "kind": "Cluster"}')
    assert "found duplicate key 'kind'" in err.message


def test_yaml_merge_keys_still_work() -> None:
    doc = NATIVE.replace(
        "    nodeGroups:\n      - nodegroupName: ng1\n",
        "    nodeGroups:\n      - &base {nodegroupName: ng1, minSize: 1}\n      - <<: *base\n"
        "        nodegroupName: ng2\n"
        "        maxSize: 3\n      - nodegroupName: ng3\n",
    )
    groups = decode_cluster(doc).spec.eks_config.node_groups or []
    assert [(g.nodegroup_name, g.min_size, g.max_size) for g in groups] == [
        ("ng1", 1, None),
        ("ng2", 1, 3),
        ("ng3", None, None),
    ]


# --- YAML implicit typing: never a silent change of meaning ---------------------------------------------


def _with_eks(line: str) -> str:
    """NATIVE with ``line`` in place of its kubernetesVersion (and of its own line for the same key)."""
    key = line.split(":", maxsplit=1)[0]
    kept = [x for x in NATIVE.splitlines(keepends=True) if not x.startswith(f"    {key}:")]
    return (
        "".join(kept)
        .replace('    kubernetesVersion: "1.30"\n', "")
        .replace("    region: us-east-1\n", f"    region: us-east-1\n    {line}\n")
    )


def test_unquoted_version_is_refused_with_a_hint() -> None:
    err = _error(_with_eks("kubernetesVersion: 1.30"))
    assert err.message == (
        "Expected `str | null`, got `float` - at `$.spec.eksConfig.kubernetesVersion` "
        "(an unquoted YAML value "
        'is read as a number or boolean; quote it, e.g. kubernetesVersion: "1.30")'
    )
    err = _error(_with_eks("kubernetesVersion: 1"))
    assert "got `int` - at `$.spec.eksConfig.kubernetesVersion`" in err.message
    err = _error(RANCHER.replace("  region: eu-west-1", "  kubernetesVersion: 1.29\n  region: eu-west-1"))
    assert "got `float` - at `$.spec.kubernetesVersion`" in err.message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('kubernetesVersion: "1.30"', "1.30"),
        ("kubernetesVersion: '1.30'", "1.30"),
        ("kubernetesVersion: 1.30.0", "1.30.0"),  # not a number at all: stays the text written
        ("kmsKey: 0123", "0123"),  # YAML 1.1 would read octal 83
        ("kmsKey: 0x1F", "0x1F"),  # ...hex 31
        ("kmsKey: 1_000", "1_000"),  # ...1000
        ("kmsKey: 1:30", "1:30"),  # ...sexagesimal 90
        ("kmsKey: 2024-01-01", "2024-01-01"),  # ...a date
        ("kmsKey: no", "no"),  # ...false
        ("kmsKey: on", "on"),  # ...true
        ("kmsKey: 1e3", "1e3"),  # ...(not a float in 1.1 either)
        ("kmsKey: =", "="),  # ...the "value" tag, which safe loading cannot construct
    ],
)
def test_scalars_keep_their_written_text(line: str, expected: str) -> None:
    eks = decode_cluster(_with_eks(line)).spec.eks_config
    field = line.split(":", maxsplit=1)[0]
    assert (eks.kubernetes_version if field == "kubernetesVersion" else eks.kms_key) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("publicAccess: yes", "Expected `bool | null`, got `str` - at `$.spec.eksConfig.publicAccess`"),
        (
            "secretsEncryption: off",
            "Expected `bool | null`, got `str` - at `$.spec.eksConfig.secretsEncryption`",
        ),
        ("tags: {true: x}", "Expected `str`, got `bool` - at `key` in `$.spec.eksConfig.tags`"),
        ("tags: {env: true}", "Expected `str`, got `bool` - at `$.spec.eksConfig.tags[...]`"),
        ("tags: {env: 10}", "Expected `str`, got `int` - at `$.spec.eksConfig.tags[...]`"),
        ("tags: {env: ~}", "Expected `str`, got `null` - at `$.spec.eksConfig.tags[...]`"),
        ("subnets: [1.5]", "Expected `str`, got `float` - at `$.spec.eksConfig.subnets[0]`"),
    ],
)
def test_typed_scalars_are_refused_for_other_types(line: str, message: str) -> None:
    assert _error(_with_eks(line)).message.startswith(message)


def test_yaml_1_1_boolean_words_are_plain_string_keys() -> None:
    eks = decode_cluster(_with_eks("tags: {on: x, no: y, Off: z}")).spec.eks_config
    assert eks.tags == {"on": "x", "no": "y", "Off": "z"}


def test_booleans_and_integers_still_decode() -> None:
    eks = decode_cluster(
        _with_eks("publicAccess: true\n    privateAccess: False\n    secretsEncryption: TRUE")
    ).spec.eks_config
    assert (eks.public_access, eks.private_access, eks.secrets_encryption) == (True, False, True)
    ng = decode_cluster(NATIVE.replace("desiredSize: 2", "desiredSize: -0")).spec.eks_config.node_groups
    assert ng is not None and ng[0].desired_size == 0


def test_alias_bombs_are_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    doc = "apiVersion: eks-controlplane.io/v1\nkind: Cluster\n" + "\n".join(lines) + "\n"
    err = _error(doc)
    assert err.message == f"document is too large (more than {MAX_MANIFEST_NODES} values)"


def test_decode_cluster_wants_exactly_one() -> None:
    with pytest.raises(ManifestError, match="expected exactly one manifest document, got 2"):
        decode_cluster(NATIVE + "---\n" + NATIVE)
    with pytest.raises(ManifestError, match="got 0"):
        decode_cluster("")


def test_non_utf8_input() -> None:
    assert _error(b"\xff\xfe").message.startswith("manifest is not UTF-8")


def test_convert_manifest_from_parsed_objects() -> None:
    obj = {
        "apiVersion": "eks.cattle.io/v1",
        "kind": "EKSClusterConfig",
        "metadata": {"name": "n"},
        "spec": {},
    }
    assert convert_manifest(obj).spec == ClusterSpec(eks_config=EKSClusterConfigSpec())
    with pytest.raises(ManifestError) as info:
        convert_manifest({**obj, "spec": {"nodeGroups": {}}}, 7)
    assert info.value.index == 7
    assert info.value.message == "Expected `array | null`, got `object` - at `$.spec.nodeGroups`"


# --- encoding -------------------------------------------------------------------------------------------

USER_DATA = 'Content-Type: multipart/mixed; boundary="//"\n\n--//\necho hi\n--//--\n'


def test_encode_preserves_null_empty_and_values() -> None:
    c = Cluster(
        metadata=Metadata(name="x"),
        spec=ClusterSpec(
            eks_config=EKSClusterConfigSpec(
                tags={},
                subnets=[],
                kms_key="no",
                kubernetes_version="1.30",
                node_groups=[NodeGroup(nodegroup_name="010", labels={"on": None}, user_data=USER_DATA)],
            )
        ),
    )
    text = encode_yaml(c)
    assert "userData: |" in text  # readable block for multi-line strings
    assert "securityGroups" not in text  # null = absent
    assert decode_cluster(text) == c
    assert decode_cluster(encode_json(c)) == c
    eks = json.loads(encode_json(c))["spec"]["eksConfig"]
    assert eks["tags"] == {} and eks["subnets"] == [] and "securityGroups" not in eks
    assert eks["nodeGroups"][0]["labels"] == {"on": None}


def test_encode_yaml_all_round_trips() -> None:
    clusters = [Cluster(metadata=Metadata(name=n)) for n in ("a", "b", "c")]
    text = encode_yaml_all(clusters)
    assert text.count("---") == 2
    assert decode_manifests(text) == clusters


def test_encode_other_structs() -> None:
    class Thing(msgspec.Struct):
        when: str

    assert encode_yaml(Thing(when="2024-01-01")) == "when: '2024-01-01'\n"
    assert encode_json(Thing(when="x")) == b'{"when":"x"}'
