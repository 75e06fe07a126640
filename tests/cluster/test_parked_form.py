"""A cluster actor between messages keeps its cluster as zlib-compressed JSON; a row straight from the
store (plain JSON) is read as it is."""

from __future__ import annotations

import msgspec

from controlplane.api import Cluster
from controlplane.cluster._actor import _pack, _unpack
from tests.api._fixtures import cluster


def test_the_parked_form_is_compressed_and_round_trips() -> None:
    original = cluster()
    plain = msgspec.json.encode(original)
    packed = _pack(original)
    assert packed[:1] == b"\x78"  # a zlib stream, not JSON
    assert len(packed) < len(plain)
    assert _unpack(packed) == original


def test_a_store_row_in_plain_json_is_read_as_it_is() -> None:
    original = cluster(name="c-plain")
    assert _unpack(msgspec.json.encode(original)) == original
    assert isinstance(_unpack(msgspec.json.encode(original)), Cluster)
