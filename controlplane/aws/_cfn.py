"""CloudFormation helpers, plus pure functions over their results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._base import CallsBase, params
from ._errors import NotFoundError

CREATE_FAILED = "CREATE_FAILED"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"


def stack_outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    """A stack's outputs as ``{OutputKey: OutputValue}``."""
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or ()}


def stack_failure_reason(events: Iterable[Mapping[str, Any]]) -> str:
    """Why a stack failed to create, as the operator reports it: the first ``CREATE_FAILED`` event
    with a reason, else the last ``ROLLBACK_IN_PROGRESS`` reason seen, else ``reason unknown``."""
    reason = "reason unknown"
    for event in events:
        if not event.get("LogicalResourceId") or not event.get("ResourceStatusReason"):
            continue
        status = event.get("ResourceStatus")
        if status == CREATE_FAILED:
            return str(event["ResourceStatusReason"])
        if status == ROLLBACK_IN_PROGRESS:
            reason = str(event["ResourceStatusReason"])
    return reason


class CfnCalls(CallsBase):
    __slots__ = ()

    async def create_stack(
        self,
        name: str,
        template_body: str,
        *,
        capabilities: Sequence[str] = (),
        parameters: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
    ) -> str:
        """CloudFormation CreateStack; returns the stack ID.

        An existing stack raises ``AlreadyExistsError``.
        """
        response = await self._call(
            "cloudformation",
            "CreateStack",
            params(
                StackName=name,
                TemplateBody=template_body,
                Capabilities=list(capabilities) or None,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
                if parameters
                else None,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()] if tags else None,
                ClientRequestToken=client_request_token,
            ),
        )
        return str(response.get("StackId") or "")

    async def describe_stack(self, name: str) -> dict[str, Any]:
        """CloudFormation DescribeStacks for one stack; a missing stack raises ``NotFoundError``."""
        stacks = await self.describe_stacks(name)
        if not stacks:
            raise NotFoundError(
                f"Stack with id {name} does not exist",
                service="cloudformation",
                operation="DescribeStacks",
                code="ValidationError",
            )
        return stacks[0]

    async def describe_stacks(self, name: str | None = None) -> list[dict[str, Any]]:
        """CloudFormation DescribeStacks, every page (all stacks when ``name`` is None)."""
        return await self._paginate("cloudformation", "DescribeStacks", params(StackName=name), "Stacks")

    async def delete_stack(self, name: str, *, client_request_token: str | None = None) -> None:
        """CloudFormation DeleteStack (asynchronous on AWS's side: poll ``describe_stack``)."""
        await self._call(
            "cloudformation", "DeleteStack", params(StackName=name, ClientRequestToken=client_request_token)
        )

    async def describe_stack_events(self, name: str) -> list[dict[str, Any]]:
        """CloudFormation DescribeStackEvents, every page, newest first."""
        return await self._paginate(
            "cloudformation", "DescribeStackEvents", {"StackName": name}, "StackEvents"
        )
