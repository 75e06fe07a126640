"""Typed application keys: the admin app's dependencies, set once by ``build_admin_app``."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry

from ..config import AdminSettings
from ..store import Store
from ._controller import ReplicaView
from ._watch import WatchHub

STORE = web.AppKey[Store]("store")
REPLICA = web.AppKey[ReplicaView]("replica")
SETTINGS = web.AppKey("settings", AdminSettings)
TOKEN = web.AppKey("token", str)
REGISTRY = web.AppKey("registry", CollectorRegistry)
LOGGER = web.AppKey("logger", logging.Logger)
SETTING_DEFAULTS = web.AppKey[Mapping[str, str]]("setting_defaults")
DEFAULT_REGION = web.AppKey("default_region", str)
"""The service's default AWS region (botocore's: AWS_DEFAULT_REGION, the AWS config file), filled into a
manifest without one; empty when there is none."""
HUB = web.AppKey("watch_hub", WatchHub)
