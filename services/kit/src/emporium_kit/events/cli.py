"""``emporium-events``: operate the event bus from a shell or from a service's own CLI.

::

    emporium-events dlq list [--consumer search-indexer] [--limit 50] [--json]
    emporium-events dlq replay [--consumer search-indexer] [--seq 12 --seq 13]
    emporium-events dlq discard --seq 12
    emporium-events streams ensure catalog inventory

The NATS URL comes from ``--nats-url`` or ``EMPORIUM_NATS_URL``. A service CLI embeds the same
commands with ``add_event_commands(subparsers)`` and ``await run(args)``, or simply calls
``main(["dlq", "list"])``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import nats
import orjson

from emporium_kit.events.dlq import (
    DeadLetter,
    discard_dead_letters,
    list_dead_letters,
    replay_dead_letters,
)
from emporium_kit.events.streams import ensure_streams

DEFAULT_NATS_URL = "nats://127.0.0.1:14222"


def _letter_dict(letter: DeadLetter) -> dict[str, Any]:
    return {
        "seq": letter.seq,
        "consumer": letter.consumer,
        "subject": letter.original_subject,
        "event_id": letter.event_id,
        "deliveries": letter.deliveries,
        "dead_lettered_at": letter.dead_lettered_at,
        "error": letter.error,
    }


def _print_letters(letters: Sequence[DeadLetter], *, as_json: bool, verb: str = "") -> None:
    if as_json:
        rows = [_letter_dict(letter) for letter in letters]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for letter in letters:
        print(
            f"{verb}{letter.seq:>8}  {letter.consumer}  {letter.original_subject}  "
            f"{letter.event_id or '-'}  x{letter.deliveries}  {letter.error}"
        )
    if not verb:
        print(f"{len(letters)} dead letter(s)")


def add_event_commands(subparsers: Any) -> None:
    """Add ``dlq`` and ``streams`` command groups to an argparse subparsers object."""
    dlq = subparsers.add_parser("dlq", help="inspect and replay dead letters")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, helptext in (
        ("list", "list dead letters"),
        ("replay", "republish dead letters to their original subject and remove them"),
        ("discard", "delete dead letters without replaying them"),
    ):
        cmd = dlq_sub.add_parser(name, help=helptext)
        cmd.add_argument("--consumer", help="only this consumer's dead letters")
        cmd.add_argument("--seq", type=int, action="append", help="DLQ sequence (repeatable)")
        cmd.add_argument("--limit", type=int, default=100 if name == "list" else 1000)
        cmd.add_argument("--json", action="store_true", help="machine-readable output")
    streams = subparsers.add_parser("streams", help="manage JetStream streams")
    streams_sub = streams.add_subparsers(dest="streams_command", required=True)
    ensure = streams_sub.add_parser("ensure", help="create/update domain streams and the DLQ")
    ensure.add_argument("domains", nargs="+")
    ensure.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="replicas of new streams; existing ones never lose any "
        "(default: EMPORIUM_NATS_STREAM_REPLICAS, else 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-events", description=__doc__.split("\n")[0])
    parser.add_argument("--nats-url", default=os.environ.get("EMPORIUM_NATS_URL", DEFAULT_NATS_URL))
    add_event_commands(parser.add_subparsers(dest="command", required=True))
    return parser


async def run(args: argparse.Namespace) -> int:
    nc = await nats.connect(args.nats_url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream(timeout=10)
        if args.command == "streams":
            replicas = args.replicas or int(os.environ.get("EMPORIUM_NATS_STREAM_REPLICAS", "1"))
            infos = await ensure_streams(js, args.domains, replicas=replicas)
            for name, info in infos.items():
                print(
                    f"{name}: {info.config.subjects} replicas={info.config.num_replicas} "
                    f"messages={info.state.messages}"
                )
            return 0
        consumer, seqs = args.consumer, args.seq
        if args.dlq_command == "list":
            letters = await list_dead_letters(js, consumer=consumer, limit=args.limit)
            if seqs:
                letters = [letter for letter in letters if letter.seq in set(seqs)]
            _print_letters(letters, as_json=args.json)
        elif args.dlq_command == "replay":
            letters = await replay_dead_letters(js, consumer=consumer, seqs=seqs, limit=args.limit)
            _print_letters(letters, as_json=args.json, verb="replayed ")
        else:
            if not (seqs or consumer):
                print("discard needs --seq or --consumer", file=sys.stderr)
                return 2
            letters = await discard_dead_letters(js, consumer=consumer, seqs=seqs, limit=args.limit)
            _print_letters(letters, as_json=args.json, verb="discarded ")
        return 0
    finally:
        await nc.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
