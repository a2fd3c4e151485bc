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

from emporium_kit.clients import RedisStore
from emporium_kit.documents import ServiceDb
from emporium_kit.errors import Conflict, NotFound
from ulid import ULID

OFFERS = "offers"
COUPON_CODES = "coupon_codes"
PROCESSED_EVENTS = "processed_events"


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


class OffersDb(ServiceDb):
    def declare(self) -> None:
        self.offers = self.aggregates(
            OFFERS,
            noun="offer",
            not_found=lambda: NotFound("OFFER_NOT_FOUND", "No such offer", ["input", "id"]),
            busy=lambda: Conflict(
                "OFFER_BUSY", "The offer is being changed by another request; retry"
            ),
        )
        self.coupon_codes = self.collection(COUPON_CODES)
