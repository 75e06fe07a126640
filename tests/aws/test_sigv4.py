"""The fast path's SigV4 signer produces exactly botocore's ``SigV4Auth`` headers."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.aws._sigv4 import SigV4Signer

_SEGMENT = st.text("abcXYZ019-_.~%2F:@", min_size=1, max_size=12)
_QUERY_KEY = st.sampled_from(["maxResults", "nextToken", "include", "a", "Z"])
_QUERY_VALUE = st.text("abc019-_%2B%3D", max_size=10)
_HOSTS = st.sampled_from(
    [
        "https://eks.us-west-2.amazonaws.com",
        "https://eks.cn-north-1.amazonaws.com.cn",
        "https://eks-fips.us-gov-west-1.amazonaws.com",
        "http://127.0.0.1:4566",
        "https://EKS.Example.com:443",
        "https://[::1]:8443",
    ]
)


@settings(max_examples=300)
@given(
    host=_HOSTS,
    segments=st.lists(_SEGMENT, min_size=1, max_size=4),
    query=st.lists(st.tuples(_QUERY_KEY, _QUERY_VALUE), max_size=3),
    region=st.sampled_from(["us-west-2", "cn-north-1", "us-gov-west-1", "us-iso-east-1"]),
    token=st.one_of(st.none(), st.text("AbC01+/=", min_size=1, max_size=40)),
    when=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1)),
)
def test_same_headers_as_botocore(
    host: str,
    segments: list[str],
    query: list[tuple[str, str]],
    region: str,
    token: str | None,
    when: dt.datetime,
) -> None:
    url = host + "/" + "/".join(segments) + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(method="GET", url=url, headers={"User-Agent": "eks-controlplane/test"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(creds.get_frozen_credentials(), "eks", region).add_auth(request)
    ours = SigV4Signer().headers(
        url=url,
        region=region,
        service="eks",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token=token,
        user_agent="eks-controlplane/test",
        timestamp=when.strftime("%Y%m%dT%H%M%SZ"),
    )
    assert ours == dict(request.headers.items())


def test_signing_keys_are_cached_and_bounded() -> None:
    signer = SigV4Signer()
    for day in range(300):
        signer.headers(
            url="https://eks.us-west-2.amazonaws.com/clusters",
            region="us-west-2",
            service="eks",
            access_key="AK",
            secret_key="SK",
            token=None,
            user_agent="x",
            timestamp=f"2026{(day // 28) % 12 + 1:02d}{day % 28 + 1:02d}T000000Z",
        )
    assert len(signer._keys) == 256
