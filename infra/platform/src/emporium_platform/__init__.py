"""Emporium's local platform: real Redis, NATS JetStream, FerretDB and OpenSearch on 127.0.0.1."""

from emporium_platform.config import PlatformConfig, Ports
from emporium_platform.core import (
    ComponentFailedError,
    ComponentFailure,
    ComponentStatus,
    Platform,
    PlatformError,
)

__all__ = [
    "ComponentFailedError",
    "ComponentFailure",
    "ComponentStatus",
    "Platform",
    "PlatformConfig",
    "PlatformError",
    "Ports",
]
