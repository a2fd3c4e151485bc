"""JSON log lines carry the service and the current trace/span ids, never secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from emporium_kit.logging import JsonFormatter, configure_logging
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


@pytest.mark.usefixtures("restore_root_logging")
def test_nested_secrets_and_bodies_never_reach_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever a call site passes: body-like keys are left out and secret-named keys masked
    at any depth, and secrets inside text (JSON, GraphQL, query strings, bearer tokens, JWTs)
    are masked in messages, string values and objects orjson cannot serialize."""
    configure_logging(KitTestSettings(_env_file=None))
    log = logging.getLogger("emporium_test")
    jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"

    class Opaque:
        def __str__(self) -> str:
            return 'Opaque(password="hunter2 staple")'

    log.warning(
        "subgraph call failed: %s",
        '{"query":"mutation($i: LoginInput!) { login(input: $i) { accessToken } }",'
        '"variables":{"i":{"email":"a@example.com","password":"hunter2 staple"}}}',
        extra={
            "request": {
                "url": "http://identity/graphql",
                "body": '{"variables":{"password":"hunter2 staple"}}',
                "headers": {"Authorization": f"Bearer {jwt}", "accept": "application/json"},
            },
            "variables": {"refreshToken": "rt-hunter2"},
            "errors": [{"message": 'got invalid value { password: "hunter2 staple" }'}],
            "calls": [{"refresh_token": "rt-hunter2"}, "GET /reset?token=hunter2&next=/"],
            "note": f"signed in with {jwt}",
            "opaque": Opaque(),
        },
    )
    (entry,) = lines(capsys)
    text = json.dumps(entry)
    assert "hunter2" not in text
    assert jwt not in text
    assert "variables" not in entry
    assert entry["request"] == {
        "url": "http://identity/graphql",
        "headers": {"Authorization": "***", "accept": "application/json"},
    }
    assert entry["message"].endswith('"email":"a@example.com","password":"***"}}}')
    assert entry["errors"] == [{"message": 'got invalid value { password: "***" }'}]
    assert entry["calls"] == [{"refresh_token": "***"}, "GET /reset?token=***&next=/"]
    assert entry["note"] == "signed in with ***"
    assert entry["opaque"] == 'Opaque(password="***")'


@pytest.mark.usefixtures("restore_root_logging")
def test_exception_text_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(KitTestSettings(_env_file=None))
    try:
        raise ValueError("1 validation error\npassword\n  too short [input_value='hunter2']")
    except ValueError:
        logging.getLogger("emporium_test").exception("login failed")
    (entry,) = lines(capsys)
    assert "hunter2" not in json.dumps(entry)
    assert "input_value=***" in str(entry["exception"])


def test_access_lines_keep_the_path_but_not_the_query_string() -> None:
    """A GET's query string is its request: the GraphQL document and variables."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/graphql?query=mutation%7Blogin%7D&variables=%7B%22p%22%3A%22hunter2%22%7D",
            "1.1",
            405,
        ),
        None,
    )
    entry = json.loads(JsonFormatter("identity").format(record))
    assert entry["message"] == '127.0.0.1:5000 - "GET /graphql HTTP/1.1" 405'
