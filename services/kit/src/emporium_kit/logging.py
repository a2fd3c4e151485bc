"""JSON logs on stdout, one object per line, with the current trace and span ids.

``configure_logging(settings)`` replaces the root handlers (uvicorn's loggers propagate to
it) with one stdout handler::

    {"ts": "...", "level": "info", "logger": "emporium_catalog.products",
     "message": "product created", "service": "catalog",
     "trace_id": "4bf9...", "span_id": "00f0...", "product_id": "..."}

Extra fields come from ``logger.info("...", extra={...})``. Values of keys that look like
secrets (password, token, secret, authorization, cookie, api key) are replaced by ``"***"``,
and credentials inside URLs are masked.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

from emporium_kit.settings import ServiceSettings

# attributes every LogRecord has; anything else was passed through ``extra=``
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authori[sz]ation|cookie|api_?key", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.I)


def _redact(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return "***"
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(r"\g<scheme>***@", value)
    return value


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (orjson) with service and trace context."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _URL_CREDENTIALS.sub(r"\g<scheme>***@", record.getMessage()),
            "service": self.service,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                entry[key] = _redact(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(settings: ServiceSettings) -> None:
    """Route all logging to stdout as JSON at ``settings.log_level``; idempotent."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(settings.service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # client libraries log every request at INFO; keep them to warnings unless debugging
    quiet = logging.WARNING if root.level > logging.DEBUG else logging.DEBUG
    for name in ("httpx", "httpcore", "opensearch", "urllib3"):
        logging.getLogger(name).setLevel(quiet)
    # uvicorn installs its own handlers when it configures logging; send them to the root
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv_logger = logging.getLogger(name)
        uv_logger.handlers.clear()
        uv_logger.propagate = True
