"""``emporium-cart``: run and operate the cart service.

::

    emporium-cart serve [--host 127.0.0.1] [--port 8004]
    emporium-cart seed
    emporium-cart event-schemas DIR
    emporium-cart dlq list|replay|discard ...
    emporium-cart streams ensure catalog
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from emporium_kit.auth import Principal
from emporium_kit.cli import add_service_commands, run_service_command
from emporium_kit.clients import RedisStore
from emporium_kit.documents import LeaseConfig
from emporium_kit.errors import Conflict
from pymongo import AsyncMongoClient

from emporium_cart import events
from emporium_cart.models import OfferCreate
from emporium_cart.offers import Offers
from emporium_cart.products import Products
from emporium_cart.settings import CartSettings
from emporium_cart.store import Keys, OffersDb

ADMIN = Principal(subject="emporium-cart seed", roles=frozenset({"admin"}))

# A few offers to see the engine work on any cart, and a coupon.
DEMO_OFFERS: list[dict[str, Any]] = [
    {
        "label": "Free shipping over $50",
        "target": {"kind": "CART"},
        "benefit": {"kind": "FREE_SHIPPING"},
        "min_subtotal": 5000,
    },
    {
        "label": "Spend $100, save 5%; $200, save 10%",
        "target": {"kind": "CART"},
        "benefit": {
            "kind": "TIERED",
            "tiers": [{"threshold": 10000, "percent": "5"}, {"threshold": 20000, "percent": "10"}],
        },
    },
    {
        "label": "WELCOME10: 10% off your order",
        "target": {"kind": "CART"},
        "benefit": {"kind": "PERCENT_OFF", "percent": "10"},
        "coupon_code": "WELCOME10",
        "per_user_limit": 1,
        "usage_limit": 1000,
        "min_subtotal": 2000,
        "priority": 10,
    },
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emporium-cart", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands, service="cart", events=events.events)
    commands.add_parser("seed", help="create the demo offers and the WELCOME10 coupon")
    return parser


async def _seed(settings: CartSettings) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True, maxPoolSize=settings.mongo_max_pool_size
    )
    redis = RedisStore(settings)
    try:
        db = OffersDb(
            client[str(settings.mongo_database or settings.service_name)],
            leases=LeaseConfig.from_settings(settings),
        )
        keys = Keys(redis, settings.cart_namespace)
        offers = Offers(
            db,
            redis,
            keys,
            Products(redis, keys, catalog=None),
            currency=settings.cart_currency,
            cache_s=0,
        )
        existing = {offer["label"] for offer in await offers.listed(ADMIN)}
        created = 0
        for offer in DEMO_OFFERS:
            if offer["label"] in existing:
                continue
            try:
                await offers.create(principal=ADMIN, data=OfferCreate.model_validate(offer))
            except Conflict:  # the coupon code exists already
                continue
            created += 1
    finally:
        await client.close()
        await redis.close()
    print(f"seeded {created} offers")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = CartSettings()
    shared = run_service_command(
        args, app="emporium_cart.app", settings=settings, events=events.events
    )
    if shared is not None:
        return shared
    return asyncio.run(_seed(settings))


if __name__ == "__main__":
    raise SystemExit(main())
