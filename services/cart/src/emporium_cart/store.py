"""The cart service's stores.

Redis (under ``cart:<namespace>:``, :class:`Keys`) holds what is read on every request:

===============================  =========================================================
``cart:<cart id>``               hash ``{v: version, doc: JSON}`` (:mod:`emporium_cart.carts`)
``product:<id>``                 the event-carried product state (:mod:`emporium_cart.products`)
``category:<id>``                ``JSON [ancestor ids..., id]``: a category's path
``product-carts:<id>``           set of the cart ids holding the product (re-pricing fan-out)
``redeemed:<offer id>``          hash ``{order id: user id}``: a coupon's redemptions
``redeemed:<offer id>:<user>``   a shopper's redemptions of a coupon
``updates`` (pub/sub channel)    ``<cart id> <version>`` after every cart change
===============================  =========================================================

MongoDB holds the admin data behind the kit's guarded write path (``emporium_kit.documents``):
``offers`` (rules and coupons, one versioned document each), ``coupon_codes`` (``_id`` = the
code: an ``_id`` insert is the one atomic uniqueness check FerretDB has) and the consumer's
``processed_events``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emporium_kit.clients import MongoStore, RedisStore
from emporium_kit.documents import LOCKS, Collection, Documents, Guard, LeaseConfig, Leases
from emporium_kit.errors import Conflict, NotFound
from emporium_kit.settings import ServiceSettings
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

OFFERS = "offers"
COUPON_CODES = "coupon_codes"
PROCESSED_EVENTS = "processed_events"


def now() -> datetime:
    """UTC now at millisecond precision: what a BSON date stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(ULID())


class Keys:
    """Redis key names of one namespace."""

    def __init__(self, redis: RedisStore, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    def _key(self, *parts: str) -> str:
        return self._redis.key(self._namespace, *parts)

    def cart(self, cart_id: str) -> str:
        return self._key("cart", cart_id)

    def product(self, product_id: str) -> str:
        return self._key("product", product_id)

    def category(self, category_id: str) -> str:
        return self._key("category", category_id)

    def product_carts(self, product_id: str) -> str:
        return self._key("product-carts", product_id)

    def redeemed(self, offer_id: str) -> str:
        return self._key("redeemed", offer_id)

    def redeemed_by(self, offer_id: str, user_id: str) -> str:
        return self._key("redeemed", offer_id, user_id)

    @property
    def updates(self) -> str:
        return self._key("updates")


class OffersDb:
    """``guard`` is the Mongo dependency's (none for command-line tools)."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        guard: Guard | None = None,
        *,
        leases: LeaseConfig | None = None,
    ) -> None:
        self.raw = db
        self.leases = Leases(Collection(db[LOCKS], guard), leases)
        self.offers = Documents(
            db[OFFERS],
            guard,
            leases=self.leases,
            noun="offer",
            not_found=lambda: NotFound("OFFER_NOT_FOUND", "No such offer", ["input", "id"]),
            busy=lambda: Conflict(
                "OFFER_BUSY", "The offer is being changed by another request; retry"
            ),
        )
        self.coupon_codes = Collection(db[COUPON_CODES], guard)

    @classmethod
    def connect(cls, mongo: MongoStore, settings: ServiceSettings) -> OffersDb:
        """The app's store: every call behind the Mongo breaker, leases from the settings."""
        return cls(mongo.db, mongo.dependency.guard, leases=LeaseConfig.from_settings(settings))
