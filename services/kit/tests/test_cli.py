"""The commands every service CLI shares: parsing, dispatch, and the event-bus commands
against the platform's NATS."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import nats
import pytest
from emporium_kit.cli import add_service_commands, run_service_command
from emporium_kit.events.envelope import EventCatalog, EventSpec
from emporium_kit.settings import ServiceSettings
from pydantic import BaseModel

DEMO = ServiceSettings(service_name="demo")


class Shipped(BaseModel):
    order_id: str


def parser(events: EventCatalog | None) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(prog="emporium-demo")
    commands = result.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="demo", events=events)
    commands.add_parser("own")
    return result


def demo_events() -> EventCatalog:
    catalog = EventCatalog("demo")
    catalog.publishes(EventSpec("demo", "Shipped", Shipped))
    return catalog


@pytest.mark.unit
def test_serve_defaults_to_the_settings_address() -> None:
    args = parser(None).parse_args(["serve"])
    assert (args.host, args.port) == (None, None), "EMPORIUM_HOST / EMPORIUM_PORT apply"
    assert parser(None).parse_args(["serve", "--port", "9001"]).port == 9001


@pytest.mark.unit
def test_event_schemas_only_where_the_service_has_events(tmp_path: Path, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        parser(None).parse_args(["event-schemas", str(tmp_path)])
    args = parser(demo_events()).parse_args(["event-schemas", str(tmp_path)])
    code = run_service_command(args, app="unused", settings=DEMO, events=demo_events())
    assert code == 0
    written = capsys.readouterr().out.split()
    assert written
    assert all(Path(p).is_file() for p in written)
    assert any("Shipped" in json.loads(Path(p).read_text()).get("title", "") for p in written)


@pytest.mark.unit
def test_the_services_own_commands_are_left_to_it() -> None:
    args = parser(None).parse_args(["own"])
    assert run_service_command(args, app="unused", settings=DEMO) is None


@pytest.mark.integration
def test_streams_ensure_uses_the_settings_nats(platform: Any) -> None:
    domain = "clitest"
    args = parser(None).parse_args(["streams", "ensure", domain])
    settings = ServiceSettings(service_name="demo", nats_url=platform.nats_url)
    assert run_service_command(args, app="unused", settings=settings) == 0

    async def stream_exists() -> bool:
        nc = await nats.connect(platform.nats_url)
        try:
            info = await nc.jetstream().stream_info(f"EMPORIUM_{domain.upper()}")
            return f"emporium.{domain}.>" in (info.config.subjects or [])
        finally:
            await nc.close()

    assert asyncio.run(stream_exists())
