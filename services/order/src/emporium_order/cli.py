"""``emporium-order``: run and operate the order service.

::

    emporium-order serve [--host 127.0.0.1] [--port 8005]
    emporium-order event-schemas DIR
    emporium-order dlq list|replay|discard ...
    emporium-order streams ensure order
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emporium_kit.cli import add_service_commands, run_service_command

from emporium_order import events
from emporium_order.settings import OrderSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-order", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="order", events=events.events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run_service_command(
        args, app="emporium_order.app", settings=OrderSettings(), events=events.events
    )
    return result if result is not None else 2


if __name__ == "__main__":
    raise SystemExit(main())
