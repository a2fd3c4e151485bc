"""``emporium-payment``: run and operate the payment service.

::

    emporium-payment serve [--host 127.0.0.1] [--port 8006]
    emporium-payment event-schemas DIR
    emporium-payment dlq list|replay|discard ...
    emporium-payment streams ensure payment
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emporium_kit.cli import add_service_commands, run_service_command

from emporium_payment import events
from emporium_payment.settings import PaymentSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-payment", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="payment", events=events.events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run_service_command(
        args, app="emporium_payment.app", settings=PaymentSettings(), events=events.events
    )
    return result if result is not None else 2


if __name__ == "__main__":
    raise SystemExit(main())
