"""Settings come from ``EMPORIUM_*`` variables and the platform's env file."""

from __future__ import annotations

from pathlib import Path

import pytest
from emporium_kit.settings import ServiceSettings, redact_url
from pydantic import ValidationError

pytestmark = pytest.mark.unit


class CatalogLike(ServiceSettings):
    service_name: str = "catalog"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the test session points the URLs at its own platform instance; these tests read defaults
    urls = ("REDIS_URL", "NATS_URL", "MONGO_URL", "OPENSEARCH_URL")
    for name in (f"EMPORIUM_{n}" for n in (*urls, "MONGO_DATABASE", "ENVIRONMENT")):
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_local_platform() -> None:
    settings = CatalogLike(_env_file=None)
    assert settings.service_name == "catalog"
    assert settings.mongo_database == "catalog"
    assert settings.redis_url == "redis://127.0.0.1:16379/0"
    assert settings.nats_url == "nats://127.0.0.1:14222"
    assert settings.mongo_url == "mongodb://127.0.0.1:27117/"
    assert settings.opensearch_url == "http://127.0.0.1:9200"
    assert settings.otlp_endpoint is None
    assert settings.environment == "development"
    assert not settings.is_production


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPORIUM_REDIS_URL", "redis://cache:6379/3")
    monkeypatch.setenv("EMPORIUM_MONGO_DATABASE", "catalog_test")
    monkeypatch.setenv("EMPORIUM_ENVIRONMENT", "production")
    monkeypatch.setenv("EMPORIUM_CURSOR_SECRET", "a production secret of 32+ characters")
    monkeypatch.setenv("EMPORIUM_BREAKER_FAIL_MAX", "2")
    settings = CatalogLike(_env_file=None)
    assert settings.redis_url == "redis://cache:6379/3"
    assert settings.mongo_database == "catalog_test"
    assert settings.is_production
    assert settings.breaker_fail_max == 2


def test_env_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(
        "EMPORIUM_REDIS_URL=redis://from-file:1/0\nEMPORIUM_NATS_URL=nats://from-file:2\n"
    )
    monkeypatch.setenv("EMPORIUM_NATS_URL", "nats://from-env:3")
    settings = CatalogLike(_env_file=env_file)
    assert settings.redis_url == "redis://from-file:1/0"
    assert settings.nats_url == "nats://from-env:3"


def test_invalid_values_rejected() -> None:
    with pytest.raises(ValidationError):
        CatalogLike(_env_file=None, environment="staging")
    with pytest.raises(ValidationError):
        CatalogLike(_env_file=None, redis_timeout_s=0)
    with pytest.raises(ValidationError):
        ServiceSettings(_env_file=None)  # no service name


def test_settings_are_immutable() -> None:
    settings = CatalogLike(_env_file=None)
    with pytest.raises(ValidationError):
        settings.service_name = "other"  # type: ignore[misc]


def test_redact_url() -> None:
    assert redact_url("mongodb://user:pw@db:27017/x") == "mongodb://***@db:27017/x"
    assert redact_url("redis://127.0.0.1:16379/0") == "redis://127.0.0.1:16379/0"
