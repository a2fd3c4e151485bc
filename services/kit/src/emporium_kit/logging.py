"""JSON logs on stdout, one object per line, with the current trace and span ids.

``configure_logging(settings)`` replaces the root handlers (uvicorn's loggers propagate to
it) with one stdout handler::

    {"ts": "...", "level": "info", "logger": "emporium_catalog.products",
     "message": "product created", "service": "catalog",
     "trace_id": "4bf9...", "span_id": "00f0...", "product_id": "..."}

Extra fields come from ``logger.info("...", extra={...})``. Nothing in a line can carry a
request body or a secret, whatever the call site passes:

- extra keys that hold bodies, variables or GraphQL documents (``body``, ``query``,
  ``variables``, ``document``) are left out, at any depth of the extra values;
- values of keys that look like secrets (password, token, secret, authorization, cookie, api
  key, credential) are replaced by ``"***"``, at any depth;
- in every text (message, string values, exception text) secret-named values in JSON,
  GraphQL or query-string form, bearer tokens and JWTs, pydantic's echo of input values and
  credentials inside URLs are masked;
- uvicorn's access lines keep the path but not the query string (a GET's query and variables).

The gateway's log writer (services/gateway/src/logging.ts) applies the same rules.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

from emporium_kit.settings import ServiceSettings

# attributes every LogRecord has; anything else was passed through ``extra=``
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_DROPPED_KEY = re.compile(r"body|query|variables|document|raw_?body", re.I)
_SECRET_NAME = r"pass(?:word)?|secret|token|authori[sz]ation|cookie|api_?key|credential"
_SECRET_KEY = re.compile(_SECRET_NAME, re.I)
# a secret-named key and its value in text: JSON ("password":"..." also escaped once),
# GraphQL (password: "..."), query strings (token=...), headers (authorization: Bearer ...)
_SECRET_IN_TEXT = re.compile(
    r"""((\\*["']?)(?<![\w-])[\w-]*(?:""" + _SECRET_NAME + r""")[\w-]*\2\s*[:=]\s*)"""
    r"""(\\+"(?:(?!\\+").)*(?:\\+")?|"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?"""
    r"""|(?:Bearer|Basic)\s+[^\s,;"'&{}]+|[^\s,;"'&{}\[\]]+)""",
    re.I,
)
_JWT_IN_TEXT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
# pydantic's validation errors echo what the client sent
_INPUT_VALUE = re.compile(r"""(input_value=)(?:'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|[^,\]\s]+)""")
_URL_CREDENTIALS = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.I
)
_MAX_DEPTH = 12


def _mask_value(match: re.Match[str]) -> str:
    quote = re.match(r"""\\*["']""", match.group(3))
    mark = quote.group(0) if quote else ""
    return f"{match.group(1)}{mark}***{mark}"


def redact_text(text: str) -> str:
    """``text`` with secret-named values, tokens, echoed input and URL credentials masked."""
    text = _SECRET_IN_TEXT.sub(_mask_value, text)
    text = _JWT_IN_TEXT.sub("***", text)
    text = _INPUT_VALUE.sub(r"\g<1>***", text)
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` without body-like keys, with secrets masked at any depth."""
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return "[...]"
    if isinstance(value, Mapping):
        return {
            key: "***"
            if _SECRET_KEY.search(str(key)) and item is not None
            else redact(item, depth + 1)
            for key, item in value.items()
            if not _DROPPED_KEY.fullmatch(str(key))
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, depth + 1) for item in value]
    return value


def _as_text(value: Any) -> str:
    """How a value orjson cannot serialize is written: its ``str()``, redacted."""
    return redact_text(str(value))


def _message(record: logging.LogRecord) -> str:
    args = record.args
    # uvicorn.access: (client, method, path with query string, http version, status)
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        path = str(args[2]).split("?", 1)[0]
        return redact_text(str(record.msg) % (*args[:2], path, *args[3:]))
    return redact_text(record.getMessage())


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
            "message": _message(record),
            "service": self.service,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        extra = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRS and not key.startswith("_")
        }
        entry.update(redact(extra))
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=_as_text).decode()


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
