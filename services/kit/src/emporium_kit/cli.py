"""The commands every service's CLI shares, defined once.

::

    emporium-<service> serve [--host H] [--port N]   # the service process: the kit's graceful
                                                     # server (emporium_kit.app.serve)
    emporium-<service> event-schemas DIR                     # services that publish events
    emporium-<service> dlq list|replay|discard ...           # the event bus's commands
    emporium-<service> streams ensure DOMAIN...

A service adds them with :func:`add_service_commands` next to its own commands and lets
:func:`run_service_command` handle the parsed arguments first.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path
from typing import Any

from emporium_kit.events.cli import add_event_commands
from emporium_kit.events.cli import run as run_event_command
from emporium_kit.events.envelope import EventCatalog
from emporium_kit.settings import ServiceSettings


def add_service_commands(
    commands: Any, *, service: str, events: EventCatalog | None = None
) -> None:
    """``serve``, ``event-schemas`` (when the service has an event catalog), ``dlq`` and
    ``streams`` on an argparse subparsers object."""
    serve = commands.add_parser(
        "serve", help=f"run the {service} service (graceful shutdown on SIGTERM)"
    )
    serve.add_argument("--host", default=None, help="default: EMPORIUM_HOST")
    serve.add_argument("--port", type=int, default=None, help="default: EMPORIUM_PORT")
    if events is not None:
        schemas = commands.add_parser("event-schemas", help="write the events' JSON schemas")
        schemas.add_argument("directory", type=Path)
    add_event_commands(commands)


def run_service_command(
    args: argparse.Namespace,
    *,
    app: str,
    settings: ServiceSettings,
    events: EventCatalog | None = None,
) -> int | None:
    """Run a shared command and return its exit code; ``None`` for the service's own.

    ``app`` is the module holding the service's module-level ``app``, imported only by
    ``serve`` (it builds the app, and its settings, from the environment).
    The event-bus commands use ``settings.nats_url`` unless the parser set ``nats_url``, and
    ``streams ensure`` uses ``settings.nats_stream_replicas`` unless given ``--replicas``.
    """
    if args.command in ("dlq", "streams"):
        args.nats_url = getattr(args, "nats_url", None) or settings.nats_url
        if args.command == "streams":
            args.replicas = args.replicas or settings.nats_stream_replicas
        return asyncio.run(run_event_command(args))
    if args.command == "event-schemas" and events is not None:
        for path in events.write_json_schemas(args.directory):
            print(path)
        return 0
    if args.command == "serve":
        from emporium_kit.app import serve

        serve(importlib.import_module(app).app, host=args.host, port=args.port)
        return 0
    return None
