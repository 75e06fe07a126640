"""AWS error answers of the simulated EKS (rest-json: ``x-amzn-ErrorType`` header + JSON body)."""

from __future__ import annotations

from typing import Any

import msgspec

_CORAL = ":http://internal.amazon.com/coral/com.amazonaws.eks/"


class EksError(Exception):
    """An EKS error answer: botocore reads ``code`` from the header and ``message`` from the body."""

    def __init__(self, code: str, status: int, message: str, **fields: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.fields = fields

    def body(self) -> bytes:
        doc: dict[str, Any] = {k: v for k, v in self.fields.items() if v is not None}
        doc["message"] = self.message
        return msgspec.json.encode(doc)

    def header(self) -> str:
        return self.code + _CORAL


def invalid_parameter(message: str, **fields: str | None) -> EksError:
    return EksError("InvalidParameterException", 400, message, **fields)


def invalid_request(message: str, **fields: str | None) -> EksError:
    return EksError("InvalidRequestException", 400, message, **fields)


def in_use(message: str, **fields: str | None) -> EksError:
    return EksError("ResourceInUseException", 409, message, **fields)


def cluster_not_found(name: str) -> EksError:
    return EksError("ResourceNotFoundException", 404, f"No cluster found for name: {name}.", clusterName=name)


def nodegroup_not_found(cluster: str, name: str) -> EksError:
    return EksError(
        "ResourceNotFoundException",
        404,
        f"No node group found for name: {name}.",
        clusterName=cluster,
        nodegroupName=name,
    )


def addon_not_found(cluster: str, name: str) -> EksError:
    return EksError(
        "ResourceNotFoundException",
        404,
        f"No addon: {name} found in cluster: {cluster}",
        clusterName=cluster,
        addonName=name,
    )


def update_not_found(cluster: str, update_id: str) -> EksError:
    return EksError(
        "ResourceNotFoundException", 404, f"No update found for ID: {update_id}.", clusterName=cluster
    )


def tag_not_found(arn: str) -> EksError:
    return EksError("NotFoundException", 404, f"Resource not found: {arn}")


def bad_request(message: str) -> EksError:
    return EksError("BadRequestException", 400, message)


def limit_exceeded(message: str, **fields: str | None) -> EksError:
    return EksError("ResourceLimitExceededException", 400, message, **fields)


def access_entry_not_found(cluster: str, principal: str) -> EksError:
    return EksError(
        "ResourceNotFoundException",
        404,
        f"The specified principalArn could not be found. You can view your available access entries with "
        f"'aws eks list-access-entries --cluster-name {cluster}'.",
        clusterName=cluster,
    )


def association_not_found(cluster: str, association_id: str) -> EksError:
    return EksError(
        "ResourceNotFoundException",
        404,
        f"No association found for id: {association_id}.",
        clusterName=cluster,
    )


def fargate_not_found(cluster: str, name: str) -> EksError:
    return EksError(
        "ResourceNotFoundException",
        404,
        f"No Fargate Profile found with name: {name}.",
        clusterName=cluster,
        fargateProfileName=name,
    )
