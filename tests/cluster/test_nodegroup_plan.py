"""The update pass's node-group plan (creates, deletes, update candidates) is the keyed diff by name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controlplane.api import EKSClusterConfigSpec, NodeGroup
from controlplane.cluster import _plan

groups = st.lists(
    st.builds(
        NodeGroup,
        nodegroup_name=st.sampled_from([None, "", "a", "b", "c", "d"]),
        desired_size=st.sampled_from([None, 1, 2]),
    ),
    max_size=5,
)


def by_name(items: list[NodeGroup] | None) -> dict[str, NodeGroup]:
    """A map by name: unnamed groups skipped, the last of a repeated name kept."""
    return {ng.nodegroup_name: ng for ng in items or [] if ng.nodegroup_name}


@given(st.none() | groups, st.none() | groups)
def test_plan_is_a_diff_by_name(desired: list[NodeGroup] | None, upstream: list[NodeGroup] | None) -> None:
    plan = _plan.nodegroup_plan(
        EKSClusterConfigSpec(node_groups=desired), EKSClusterConfigSpec(node_groups=upstream)
    )
    if desired is None:
        assert not (plan.creates or plan.updates or plan.deletes)  # unmanaged: nothing planned
        return
    want, have = by_name(desired), by_name(upstream)
    assert plan.creates == [ng for name, ng in want.items() if name not in have]
    assert plan.deletes == [ng for name, ng in have.items() if name not in want]
    # Every group on both sides goes to the update step, which decides what (if anything) to call.
    assert [(u.want, u.have) for u in plan.updates] == [
        (want[name], ng) for name, ng in have.items() if name in want
    ]


def test_plan_example() -> None:
    desired = EKSClusterConfigSpec(
        node_groups=[NodeGroup(nodegroup_name="keep", desired_size=2), NodeGroup(nodegroup_name="new")]
    )
    upstream = EKSClusterConfigSpec(
        node_groups=[NodeGroup(nodegroup_name="old"), NodeGroup(nodegroup_name="keep", desired_size=2)]
    )
    plan = _plan.nodegroup_plan(desired, upstream)
    assert [ng.nodegroup_name for ng in plan.creates] == ["new"]
    assert [ng.nodegroup_name for ng in plan.deletes] == ["old"]
    assert [u.have.nodegroup_name for u in plan.updates] == ["keep"]
