"""What a chaos scenario is judged on, as pure functions of what the admin API and the simulator show.

- The **ledger** holds every change the admin API accepted (a 2xx answer): created clusters, spec updates
  (the tag and node-group size they set) and deletions. A change whose answer was lost (the connection
  dropped, the process was killed) is *uncertain*: either outcome is fine, but AWS must then agree with
  the API about it (a create the API does not know must have left nothing in AWS).
- **Duplicates**: one logical AWS resource present more than once (an EKS cluster, a stack, a launch
  template, an OIDC provider per issuer).
- **Leaks**: AWS resources no cluster of the API accounts for: EKS clusters the control plane made,
  CloudFormation stacks and launch templates named after a cluster it no longer has (or never made),
  node groups a managed spec does not list, launch-template versions no node group uses (the default
  version excepted), OIDC providers of no live cluster, add-ons a spec does not want.
- **Lost changes**: accepted changes the fleet does not show once settled (a created cluster missing, a
  tag or size not in the spec or not in AWS, a deleted cluster still there).
- **Settled**: every cluster active without a failure message, its applied spec equal to its spec; every
  accepted deletion gone; every AWS resource of a made cluster done with its transition.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec

STACK_SUFFIXES = ("-eks-vpc", "-eks-service-role", "-node-instance-role", "-ebs-csi-driver-role")
LT_PREFIX = "rancher-managed-lt-"
EBS_ADDON = "aws-ebs-csi-driver"
CHAOS_TAG = "chaos-change"
TRANSITIONS = ("CREATING", "UPDATING", "DELETING")


class Change(msgspec.Struct, kw_only=True):
    """The newest accepted spec change of one cluster."""

    tag: str
    """Value of the ``chaos-change`` tag the change set."""
    desired: dict[str, int]
    """Node group name -> desired size the change set."""


class Ledger(msgspec.Struct, kw_only=True):
    """Every change the admin API accepted during the run (names only, no secrets)."""

    external: set[str] = msgspec.field(default_factory=set)
    """Clusters that existed in AWS before the control plane (imported): AWS keeps them after a delete."""
    made: set[str] = msgspec.field(default_factory=set)
    """Clusters the control plane was asked to create (and answered 201)."""
    uncertain: set[str] = msgspec.field(default_factory=set)
    """Creates and deletes whose answer was lost: either outcome is fine."""
    deleted: set[str] = msgspec.field(default_factory=set)
    """Accepted deletions (answered 202)."""
    changes: dict[str, Change] = msgspec.field(default_factory=dict)

    def create_accepted(self, name: str) -> None:
        self.made.add(name)
        self.uncertain.discard(name)

    def delete_accepted(self, name: str) -> None:
        self.deleted.add(name)
        self.changes.pop(name, None)
        self.uncertain.discard(name)


class Verdict(msgspec.Struct, kw_only=True):
    settled: bool
    duplicates: dict[str, int]
    leaks: dict[str, int]
    lost: list[str]
    """One line per lost change (name and what is missing), at most ``MAX_LISTED``."""
    lost_count: int
    unsettled: list[str]
    """Why the fleet is not settled yet (first few reasons)."""
    errors: int
    """Clusters showing a failure message or an ``Updated`` condition that is False."""

    @property
    def duplicate_count(self) -> int:
        return sum(self.duplicates.values())

    @property
    def leak_count(self) -> int:
        return sum(self.leaks.values())


MAX_LISTED = 20


def _condition(cluster: dict[str, Any], kind: str) -> tuple[str, str]:
    for c in (cluster.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status", "")), str(c.get("message", ""))
    return "", ""


def cluster_error(cluster: dict[str, Any]) -> str:
    """The error a user sees on a cluster (failure message, or a False ``Updated``), or ""."""
    status = cluster.get("status") or {}
    failure = str(status.get("failureMessage") or "")
    if failure:
        return failure
    updated, message = _condition(cluster, "Updated")
    return message if updated == "False" else ""


def _owner_of_stack(name: str) -> str | None:
    for suffix in STACK_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def duplicates(state: dict[str, Any]) -> dict[str, int]:
    """Logical AWS resources present more than once, by kind (extra copies counted)."""
    out: dict[str, int] = {}

    def extra(kind: str, keys: list[str]) -> None:
        n = sum(c - 1 for c in Counter(keys).values() if c > 1)
        if n:
            out[kind] = n

    extra("clusters", [c["name"] for c in state.get("clusters") or []])
    extra("stacks", [s["name"] for s in state.get("stacks") or []])
    extra("launch templates", [t["name"] for t in state.get("launchTemplates") or []])
    extra("oidc providers", [p["url"] for p in state.get("oidcProviders") or []])
    groups = [
        f"{c['name']}/{g['name']}" for c in state.get("clusters") or [] for g in c.get("nodegroups") or []
    ]
    extra("node groups", groups)
    return out


def leaks(api: dict[str, dict[str, Any]], state: dict[str, Any], ledger: Ledger) -> dict[str, int]:
    """AWS resources no cluster of the API accounts for, by kind."""
    out: Counter[str] = Counter()
    aws = {c["name"]: c for c in state.get("clusters") or []}
    for name, c in aws.items():
        if name not in api and name not in ledger.external:
            out["clusters"] += 1
            continue
        cluster = api.get(name)
        if cluster is None:
            continue  # an imported cluster deleted from the API stays in AWS (Rancher's rule)
        eks = (cluster.get("spec") or {}).get("eksConfig") or {}
        wanted = eks.get("nodeGroups")
        if wanted is not None:
            names = {g.get("nodegroupName") for g in wanted}
            out["node groups"] += sum(1 for g in c.get("nodegroups") or [] if g["name"] not in names)
        if eks.get("ebsCSIDriver") is False and name in ledger.made:
            out["add-ons"] += sum(1 for a in c.get("addons") or [] if a["name"] == EBS_ADDON)
    made_alive = {
        n for n, c in api.items() if not ((c.get("spec") or {}).get("eksConfig") or {}).get("imported")
    }
    for s in state.get("stacks") or []:
        owner = _owner_of_stack(s["name"])
        if owner is None or owner not in made_alive:
            out["stacks"] += 1
    used: dict[str, set[str]] = {}
    for c in aws.values():
        for g in c.get("nodegroups") or []:
            lt = g.get("launchTemplate") or {}
            if lt.get("name"):
                used.setdefault(lt["name"], set()).add(str(lt.get("version")))
    for t in state.get("launchTemplates") or []:
        name = t["name"]
        if not name.startswith(LT_PREFIX):
            continue
        if name.removeprefix(LT_PREFIX) not in made_alive:
            out["launch templates"] += 1
            continue
        keep = used.get(name, set()) | {str(t.get("defaultVersion"))}
        out["launch template versions"] += sum(1 for v in t.get("versions") or [] if str(v) not in keep)
    issuers = {c.get("oidcIssuer") for n, c in aws.items() if n in api}
    out["oidc providers"] += sum(1 for p in state.get("oidcProviders") or [] if p["url"] not in issuers)
    return {k: v for k, v in out.items() if v}


def lost_changes(api: dict[str, dict[str, Any]], state: dict[str, Any], ledger: Ledger) -> list[str]:
    """Accepted changes the settled fleet does not show (one line each)."""
    aws = {c["name"]: c for c in state.get("clusters") or []}
    lost: list[str] = []
    for name in sorted(ledger.made - ledger.deleted - ledger.uncertain):
        if name not in api:
            lost.append(f"{name}: created, but not in the API")
        elif name not in aws:
            lost.append(f"{name}: created, but not in AWS")
    for name in sorted(ledger.deleted - ledger.uncertain):
        if name in api:
            lost.append(f"{name}: deleted, but still in the API")
        elif name in ledger.made and name in aws:
            lost.append(f"{name}: deleted, but still in AWS")
    for name, change in sorted(ledger.changes.items()):
        cluster = api.get(name)
        if cluster is None:
            lost.append(f"{name}: updated, but not in the API")
            continue
        eks = (cluster.get("spec") or {}).get("eksConfig") or {}
        if (eks.get("tags") or {}).get(CHAOS_TAG) != change.tag:
            lost.append(f"{name}: tag {change.tag} not in the spec")
        upstream = aws.get(name) or {}
        if (upstream.get("tags") or {}).get(CHAOS_TAG) != change.tag:
            lost.append(f"{name}: tag {change.tag} not in AWS")
        sizes = {g["name"]: g.get("desiredSize") for g in upstream.get("nodegroups") or []}
        for group, size in change.desired.items():
            if sizes.get(group) != size:
                lost.append(f"{name}: node group {group} desired {size} not in AWS (has {sizes.get(group)})")
    return lost


def unsettled(api: dict[str, dict[str, Any]], state: dict[str, Any], ledger: Ledger) -> list[str]:
    """Why the fleet is not settled (empty when it is)."""
    reasons: list[str] = []
    for name, c in api.items():
        status = c.get("status") or {}
        eks = (c.get("spec") or {}).get("eksConfig")
        if status.get("phase") != "active":
            reasons.append(f"{name}: phase {status.get('phase')!r}")
        elif status.get("failureMessage"):
            reasons.append(f"{name}: {status['failureMessage'][:120]}")
        elif status.get("appliedSpec") != eks:
            reasons.append(f"{name}: spec not applied yet")
    for name in ledger.deleted - ledger.uncertain:
        if name in api:
            reasons.append(f"{name}: deletion not finished")
    for c in state.get("clusters") or []:
        if c["name"] in ledger.made and (
            c["status"] in TRANSITIONS or any(g["status"] in TRANSITIONS for g in c.get("nodegroups") or [])
        ):
            reasons.append(f"{c['name']}: {c['status']} in AWS")
    for s in state.get("stacks") or []:
        if s["status"].endswith("_IN_PROGRESS"):
            reasons.append(f"stack {s['name']}: {s['status']}")
    return reasons


def assess(items: list[dict[str, Any]], state: dict[str, Any], ledger: Ledger) -> Verdict:
    """The verdict on the fleet the API lists (``items``) and the AWS state the simulator shows."""
    api = {c["metadata"]["name"]: c for c in items}
    lost = lost_changes(api, state, ledger)
    leaked = leaks(api, state, ledger)
    reasons = unsettled(api, state, ledger)
    reasons += [f"leaked {k}: {v}" for k, v in sorted(leaked.items())]
    reasons += lost[:MAX_LISTED]
    return Verdict(
        settled=not reasons,
        duplicates=duplicates(state),
        leaks=leaked,
        lost=lost[:MAX_LISTED],
        lost_count=len(lost),
        unsettled=reasons[:MAX_LISTED],
        errors=sum(1 for c in items if cluster_error(c)),
    )
