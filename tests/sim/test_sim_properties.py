"""Properties of the simulator's pure pieces: page tokens, route matching, node group update plans."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.sim import EksError
from controlplane.sim._model import NodegroupRec
from controlplane.sim._nodegroup_config import apply_changes, config_plan, version_plan
from controlplane.sim._routes import route
from controlplane.sim._wire import paginate

# EKS names: an alphanumeric first, then alphanumerics, hyphens and underscores. Words the paths
# use ("updates", "node-groups", ...) are valid names too.
names = st.one_of(
    st.from_regex(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,20}", fullmatch=True),
    st.sampled_from(["clusters", "updates", "update-config", "node-groups", "addons", "supported-versions"]),
)


@given(
    keys=st.lists(names, unique=True, max_size=40).map(sorted),
    size=st.integers(1, 7),
    deletions=st.lists(st.sets(st.integers(0, 39)), max_size=10),
)
def test_pages_of_sorted_names_neither_repeat_nor_skip_survivors(
    keys: list[str], size: int, deletions: list[set[int]]
) -> None:
    live = list(keys)
    doomed = iter(deletions)
    seen: list[str] = []
    token: str | None = None
    while True:
        page, token = paginate(live, size, token)
        seen += page
        if token is None:
            break
        gone = {keys[i] for i in next(doomed, set()) if i < len(keys)}  # deleted between pages
        live = [k for k in live if k not in gone]
    assert seen == sorted(set(seen))
    assert set(live) <= set(seen)


@given(ids=st.lists(st.uuids().map(str), unique=True, max_size=30), size=st.integers(1, 7))
def test_pages_of_ids_in_creation_order_are_the_ids_in_that_order(ids: list[str], size: int) -> None:
    seen: list[str] = []
    token: str | None = None
    while True:
        page, token = paginate(ids, size, token, ordered=False)
        seen += page
        if token is None:
            break
    assert seen == ids


@given(cluster=names, nodegroup=names)
def test_any_name_routes_as_a_name_even_when_it_is_a_path_word(cluster: str, nodegroup: str) -> None:
    c, n = quote(cluster, safe=""), quote(nodegroup, safe="")
    expected = {
        ("GET", f"/clusters/{c}"): "DescribeCluster",
        ("DELETE", f"/clusters/{c}"): "DeleteCluster",
        ("GET", f"/clusters/{c}/updates?nodegroupName={n}"): "ListUpdates",
        ("GET", f"/clusters/{c}/node-groups/{n}"): "DescribeNodegroup",
        ("POST", f"/clusters/{c}/node-groups/{n}/update-config"): "UpdateNodegroupConfig",
        ("GET", f"/clusters/{c}/addons/{n}"): "DescribeAddon",
        ("GET", f"/clusters/{c}/updates/{n}"): "DescribeUpdate",
    }
    for (method, path), operation in expected.items():
        found = route(method, path)
        assert found is not None and found[0] == operation, (method, path)
        assert found[2][1] == cluster  # percent-decoded
    assert route("GET", "/addons/supported-versions") is not None
    assert route("GET", f"/clusters/{c}/bogus") is None


def _nodegroup(labels: dict[str, str], sizes: tuple[int, int, int] = (1, 3, 2)) -> NodegroupRec:
    return NodegroupRec(
        name="ng",
        arn="arn:aws:eks:us-west-2:123456789012:nodegroup/c/ng/x",
        status="ACTIVE",
        version="1.30",
        release_version="1.30.0-20250501",
        created_at=0.0,
        modified_at=0.0,
        capacity_type="ON_DEMAND",
        min_size=sizes[0],
        max_size=sizes[1],
        desired_size=sizes[2],
        subnets=["subnet-a"],
        ami_type="AL2023_x86_64_STANDARD",
        node_role="arn:aws:iam::123456789012:role/node",
        asg_name="asg",
        labels=labels,
    )


label_maps = st.dictionaries(st.sampled_from("abcdef"), st.sampled_from("xyz"), max_size=6)


@given(current=label_maps, wanted=label_maps)
def test_a_label_plan_from_the_difference_applies_to_exactly_the_wanted_labels(
    current: dict[str, str], wanted: dict[str, str]
) -> None:
    n = _nodegroup(dict(current))
    add = {k: v for k, v in wanted.items() if current.get(k) != v}
    remove = [k for k in current if k not in wanted]
    plan = config_plan(n, labels_add=add, labels_remove=remove)
    assert bool(plan.changes) == (current != wanted)
    apply_changes(n, plan.changes)
    assert n.labels == wanted
    assert {label for label, _ in plan.params} <= {"LabelsToAdd", "LabelsToRemove"}


sizes = st.integers(-1, 6)


@given(min_size=st.none() | sizes, max_size=st.none() | sizes, desired=st.none() | sizes)
def test_a_scaling_plan_applies_the_sizes_given_or_is_refused_when_they_do_not_fit(
    min_size: int | None, max_size: int | None, desired: int | None
) -> None:
    n = _nodegroup({})
    mn = n.min_size if min_size is None else min_size
    mx = n.max_size if max_size is None else max_size
    ds = n.desired_size if desired is None else desired
    fits = 0 <= mn <= ds <= mx and mx >= 1
    if not fits:
        with pytest.raises(EksError) as e:
            config_plan(n, min_size=min_size, max_size=max_size, desired_size=desired)
        assert e.value.code == "InvalidParameterException"
        return
    plan = config_plan(n, min_size=min_size, max_size=max_size, desired_size=desired)
    apply_changes(n, plan.changes)
    assert (n.min_size, n.max_size, n.desired_size) == (mn, mx, ds)
    assert len(plan.params) == sum(v is not None for v in (min_size, max_size, desired))


@given(release=st.none() | st.just("1.31.5-20250601"))
def test_a_version_plan_moves_version_and_release_together(release: str | None) -> None:
    n = _nodegroup({})
    plan = version_plan("1.31", release)
    apply_changes(n, plan.changes)
    assert n.version == "1.31"
    assert n.release_version == (release or "1.31.0-20250501")
    assert plan.params == [("Version", "1.31"), ("ReleaseVersion", n.release_version)]
