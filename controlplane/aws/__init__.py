"""The shared AWS adapter (aiobotocore).

One ``AwsAdapter`` per process (``async with AwsAdapter(settings, lookup) as aws``) owns the
aiobotocore session, an LRU of clients per (credential identity, region, service), per
(account, region, service) token buckets and in-flight caps, retry configuration and metrics.
``await aws.scope("namespace:name", region)`` gives an ``AwsScope`` with typed helpers for every
EKS, EC2, CloudFormation, IAM and STS call the lifecycle needs; all of them are listed in
``OPERATIONS``, from which ``iam_policy()`` derives the minimum IAM policy.

Endpoints: ``AwsSettings.endpoint_urls[service]``, then ``AwsSettings.endpoint_url`` (what
``controlplane serve --aws-endpoint`` sets), then botocore's ``AWS_ENDPOINT_URL_<SERVICE>`` and
``AWS_ENDPOINT_URL`` environment variables, then AWS.
"""

from ._adapter import AwsAdapter
from ._cfn import stack_failure_reason, stack_outputs
from ._clients import AdapterClosedError
from ._credential_cache import CachedCredentialLookup, CredentialSource, credential_spec
from ._credentials import (
    ACCESS_KEY_FIELD,
    EXTERNAL_ID_FIELD,
    INVALID_CREDENTIAL,
    ROLE_ARN_FIELD,
    SECRET_KEY_FIELD,
    SESSION_TOKEN_FIELD,
    AwsCredentialSpec,
    CredentialLookup,
    SigningCredentials,
    parse_credential_reference,
    resolve_credential_reference,
)
from ._ec2 import FailedVersionDeletion, VersionDeletionResult
from ._errors import (
    AccessDeniedError,
    AlreadyExistsError,
    AwsConnectionError,
    AwsError,
    ClientRequestError,
    CredentialError,
    NotFoundError,
    ResourceInUseError,
    ServerError,
    ThrottledError,
    UpdateInProgressError,
    classify,
    classify_code,
)
from ._limits import Limiter, TokenBucket
from ._operations import DEFAULT_PURPOSES, OPERATIONS, PURPOSES, Operation, actions_for, iam_policy
from ._partitions import Partition, partition
from ._scope import AwsScope, CallerIdentity, Guard
from ._settings import SERVICES, AwsSettings, ServiceLimits
from ._templates import (
    EBS_CSI_POLICY_PARAMETER,
    EBS_CSI_ROLE_OUTPUT,
    NODE_ROLE_OUTPUT,
    SERVICE_ROLE_OUTPUT,
    VPC_OUTPUT_SUBNET_IDS,
    VPC_OUTPUT_VPC_ID,
    Template,
    choose_zones,
    oidc_provider_path,
    partition_of,
    render,
    render_document,
)

__all__ = [
    "ACCESS_KEY_FIELD",
    "DEFAULT_PURPOSES",
    "EBS_CSI_POLICY_PARAMETER",
    "EBS_CSI_ROLE_OUTPUT",
    "EXTERNAL_ID_FIELD",
    "INVALID_CREDENTIAL",
    "NODE_ROLE_OUTPUT",
    "OPERATIONS",
    "PURPOSES",
    "ROLE_ARN_FIELD",
    "SECRET_KEY_FIELD",
    "SERVICES",
    "SERVICE_ROLE_OUTPUT",
    "SESSION_TOKEN_FIELD",
    "VPC_OUTPUT_SUBNET_IDS",
    "VPC_OUTPUT_VPC_ID",
    "AccessDeniedError",
    "AdapterClosedError",
    "AlreadyExistsError",
    "AwsAdapter",
    "AwsConnectionError",
    "AwsCredentialSpec",
    "AwsError",
    "AwsScope",
    "AwsSettings",
    "CachedCredentialLookup",
    "CallerIdentity",
    "ClientRequestError",
    "CredentialError",
    "CredentialLookup",
    "CredentialSource",
    "FailedVersionDeletion",
    "Guard",
    "Limiter",
    "NotFoundError",
    "Operation",
    "Partition",
    "ResourceInUseError",
    "ServerError",
    "ServiceLimits",
    "SigningCredentials",
    "Template",
    "ThrottledError",
    "TokenBucket",
    "UpdateInProgressError",
    "VersionDeletionResult",
    "actions_for",
    "choose_zones",
    "classify",
    "classify_code",
    "credential_spec",
    "iam_policy",
    "oidc_provider_path",
    "parse_credential_reference",
    "partition",
    "partition_of",
    "render",
    "render_document",
    "resolve_credential_reference",
    "stack_failure_reason",
    "stack_outputs",
]
