"""JSON log lines carry the service and the current trace/span ids, never secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from emporium_kit.logging import configure_logging
from emporium_kit.telemetry import setup_tracing
from opentelemetry import trace

from .conftest import KitTestSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


@pytest.mark.usefixtures("restore_root_logging")
def test_json_lines_with_trace_context(capsys: pytest.CaptureFixture[str]) -> None:
    settings = KitTestSettings(_env_file=None)
    provider = setup_tracing(settings)
    configure_logging(settings)
    log = logging.getLogger("emporium_test")
    with provider.get_tracer("test").start_as_current_span("work") as span:
        log.info("inside %s", "span", extra={"product_id": "p-1"})
        context = span.get_span_context()
    log.warning("outside")
    inside, outside = lines(capsys)
    assert inside["message"] == "inside span"
    assert inside["service"] == "kittest"
    assert inside["level"] == "info"
    assert inside["product_id"] == "p-1"
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside
    assert trace.get_current_span().get_span_context().is_valid is False


@pytest.mark.usefixtures("restore_root_logging")
def test_secrets_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(KitTestSettings(_env_file=None))
    log = logging.getLogger("emporium_test")
    log.info(
        "connecting to %s",
        "mongodb://admin:hunter2@db:27017/catalog",
        extra={
            "password": "hunter2",
            "authorization": "Bearer abc",
            "refresh_token": "rt",
            "url": "redis://user:hunter2@cache:6379/0",
            "sku": "SKU-1",
        },
    )
    (entry,) = lines(capsys)
    text = json.dumps(entry)
    assert "hunter2" not in text
    assert "abc" not in text
    assert entry["message"] == "connecting to mongodb://***@db:27017/catalog"
    assert entry["password"] == entry["refresh_token"] == "***"
    assert entry["url"] == "redis://***@cache:6379/0"
    assert entry["sku"] == "SKU-1"


@pytest.mark.usefixtures("restore_root_logging")
def test_exceptions_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(KitTestSettings(_env_file=None))
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("emporium_test").exception("failed")
    (entry,) = lines(capsys)
    assert entry["level"] == "error"
    assert "ValueError: bad" in str(entry["exception"])
