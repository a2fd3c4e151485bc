"""``emporium-inventory``: run and operate the inventory service.

::

    emporium-inventory serve [--host 127.0.0.1] [--port 8007]
    emporium-inventory event-schemas DIR
    emporium-inventory dlq list|replay|discard ...
    emporium-inventory streams ensure inventory
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emporium_kit.cli import add_service_commands, run_service_command

from emporium_inventory import events
from emporium_inventory.settings import InventorySettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-inventory", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="inventory", events=events.events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run_service_command(
        args, app="emporium_inventory.app", settings=InventorySettings(), events=events.events
    )
    return result if result is not None else 2


if __name__ == "__main__":
    raise SystemExit(main())
