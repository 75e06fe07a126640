"""Schemathesis against the live ``/openapi.json``: every operation with generated (valid and invalid)
requests. Success: no 5xx, every response (errors included) matches the documented schema, status and
media type, no stack trace and no secret in any body, and no secret in any log line.

The example count per operation is small here (``CONTROLPLANE_FUZZ_EXAMPLES``, default 12) so the suite
stays fast; ``benchmarks/bench_fuzz.py`` runs the same tests with thousands.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import (
    CoveragePhaseConfig,
    GenerationConfig,
    PhasesConfig,
    ProjectConfig,
    ProjectsConfig,
    SchemathesisConfig,
)

from controlplane.admin._openapi import openapi_document

from ._live import SEEDED_SECRET, live_api
from ._support import TOKEN

EXAMPLES = int(os.environ.get("CONTROLPLANE_FUZZ_EXAMPLES", "12"))
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "\n  File ")
MIN_SECRET = 8
"""Secret values shorter than this are not looked for in bodies (a one-character value shows up anywhere)."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with live_api(tmp_path_factory.mktemp("fuzz")) as served:
        yield served


# The document the live server serves (``test_the_schema_is_served_live`` checks they are the same bytes'
# worth): schemathesis needs it when the tests are collected, before any server runs.
# The coverage phase (every boundary of every field of the big Cluster schema) alone takes about half a
# minute per operation: the suite runs the examples and the fuzzing phases; the benchmark adds coverage.
COVERAGE = os.environ.get("CONTROLPLANE_FUZZ_COVERAGE") is not None
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=SchemathesisConfig(
        projects=ProjectsConfig(
            default=ProjectConfig(
                phases=PhasesConfig(coverage=CoveragePhaseConfig(enabled=COVERAGE)),
                # Valid and invalid requests; unknown query parameters are ignored, as Kubernetes does (a
                # newer client's parameter is not an error), so they are not generated as invalid input.
                generation=GenerationConfig(
                    modes=list(schemathesis.GenerationMode), allow_extra_parameters=False
                ),
            )
        )
    ),
)


def _secrets_sent(case: Any) -> list[str]:
    body = case.body if isinstance(case.body, dict) else {}
    values = [body.get(k) for k in ("secretKey", "sessionToken", "externalId")]
    return [v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET]


def _hygiene(case: Any, response: Any) -> None:
    text = response.text or ""
    for marker in TRACE_MARKERS:
        assert marker not in text, f"stack trace in {case.method} {case.path}: {text[:500]}"
    for secret in [TOKEN, SEEDED_SECRET, *_secrets_sent(case)]:
        assert secret not in text, f"a secret in the body of {case.method} {case.path}"


CHECKS = (
    not_a_server_error,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("CONTROLPLANE_FUZZ_RANDOM") is None,
)
def test_api_conforms_to_its_schema(case: Any, live: tuple[str, Any]) -> None:
    url, logs = live
    response = case.call(base_url=url, headers=AUTH)
    case.validate_response(response, checks=CHECKS)
    _hygiene(case, response)
    secrets = [TOKEN, SEEDED_SECRET, *_secrets_sent(case)]
    for line in logs.records[-20:]:
        for secret in secrets:
            assert secret not in line, "a secret in a log line"


@schema.parametrize()
@settings(max_examples=max(2, EXAMPLES // 4), deadline=None, suppress_health_check=list(HealthCheck))
def test_without_the_token_every_operation_is_refused_or_public(case: Any, live: tuple[str, Any]) -> None:
    url, _ = live
    response = case.call(base_url=url)
    if case.path.startswith("/v1"):
        assert response.status_code == 401, (case.method, case.path, response.status_code)
        headers = {k.lower(): v for k, v in response.headers.items()}
        challenge = headers["www-authenticate"]
        assert str(challenge[0] if isinstance(challenge, list) else challenge).startswith("Bearer")
    case.validate_response(response, checks=CHECKS)
    _hygiene(case, response)


def test_the_schema_is_served_live(live: tuple[str, Any]) -> None:
    url, _ = live
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as resp:
        served = json.loads(resp.read())
    assert served == json.loads(json.dumps(openapi_document()))
    loaded = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in loaded.get_all_operations())}
    assert ("POST", "/v1/clusters") in operations and (
        "PUT",
        "/v1/credentials/{namespace}/{name}",
    ) in operations
