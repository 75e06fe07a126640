"""Forwarded requests the simulator answers or rewrites itself, where moto differs from AWS in what
the control plane relies on (see ``_launch_templates`` and ``_stacks``)."""

from __future__ import annotations

from aiohttp import web

from . import _launch_templates as lts
from ._moto import regional
from ._query import QueryError, cfn_answer, ec2_answer, ec2_error, indexed
from ._stacks import StackDeleter

FIXED = frozenset(
    {
        ("ec2", "DeleteLaunchTemplateVersions"),
        ("ec2", "DescribeLaunchTemplates"),
        ("ec2", "DescribeLaunchTemplateVersions"),
        ("ec2", "DeleteLaunchTemplate"),
        ("cloudformation", "DeleteStack"),
    }
)
"""(signing name, operation) pairs ``MotoFixes.handle`` looks at; everything else goes to moto as is."""

# moto answers at most MaxResults (default 15) items and never a NextToken, so a paginating client
# would miss the rest. Without a MaxResults, AWS picks the page size: here, one page with everything.
_ALL_ITEMS = b"&MaxResults=1000000"


class MotoFixes:
    """Applies the fixes to forwarded requests; owns the deferred stack deletions (``close()``)."""

    def __init__(self, stack_delete_delay: float) -> None:
        self.stacks = StackDeleter(stack_delete_delay)

    def handle(
        self, service: str, op: str, *, account: str, region: str, p: dict[str, str], body: bytes
    ) -> web.Response | bytes:
        """The answer to a request in ``FIXED``, or the body to forward to moto instead of ``body``."""
        if service == "cloudformation":
            name = p.get("StackName", "")
            if name and self.stacks.start(account, region, name):
                return cfn_answer("DeleteStack")
            return body
        ec2 = regional("ec2", account, region)
        try:
            if op == "DeleteLaunchTemplateVersions":
                result = lts.delete_versions(
                    ec2,
                    p.get("LaunchTemplateId") or None,
                    p.get("LaunchTemplateName") or None,
                    indexed(p, "LaunchTemplateVersion"),
                )
                return ec2_answer(op, lts.render_deleted(result))
            if op == "DeleteLaunchTemplate":
                lt_name = p.get("LaunchTemplateName")
                tid = None if lt_name else p.get("LaunchTemplateId")
                if (tid or lt_name) and lts.find(ec2, tid, lt_name) is None:
                    raise lts.not_found(tid) if tid else lts.name_not_found(str(lt_name))
                return body
            if op == "DescribeLaunchTemplates":
                lts.check_ids_exist(ec2, indexed(p, "LaunchTemplateId"))
            elif indexed(p, "LaunchTemplateVersion"):
                # Explicit versions are looked up by number (moto indexes its list: "0" is $Latest).
                lt = lts.find(ec2, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
                if lt is not None:
                    lts.own_numbering(lt)
            if body and "MaxResults" not in p:
                return body + _ALL_ITEMS
            return body
        except QueryError as e:
            return ec2_error(e)

    def close(self) -> None:
        self.stacks.close()
