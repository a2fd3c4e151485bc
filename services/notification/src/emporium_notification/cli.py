"""``emporium-notification``: run and operate the notification service.

::

    emporium-notification serve [--host 127.0.0.1] [--port 8009]
    emporium-notification event-schemas DIR
    emporium-notification dlq list|replay|discard ...
    emporium-notification streams ensure notification
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emporium_kit.cli import add_service_commands, run_service_command

from emporium_notification import events
from emporium_notification.settings import NotificationSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emporium-notification", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="notification", events=events.events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run_service_command(
        args, app="emporium_notification.app", settings=NotificationSettings(), events=events.events
    )
    return result if result is not None else 2


if __name__ == "__main__":
    raise SystemExit(main())
