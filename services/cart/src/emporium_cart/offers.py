"""Offers and coupons: admin data in MongoDB, redemptions in Redis, rules for the engine.

An offer is one document in ``offers`` (the :class:`~emporium_cart.models.OfferFields`,
``owner_seller_id`` for a seller's own offer, ``version``); every change goes through the
kit's guarded write path (``Documents.update``: the document's lease, then one write
filtered on its version). A coupon code is claimed by inserting ``{_id: code}`` into
``coupon_codes`` first, so two offers can never share a code.

Who may do what: an admin manages every offer; a seller manages only offers it owns, whose
target is its own products (``PRODUCT`` values it owns in the catalog) or itself (``SELLER``
with its own seller id).

Redemptions are counted when an order is placed (:meth:`Offers.redeem`, the order service's
call): one Lua script checks the coupon's total and per-shopper limits and records the order,
atomically, so the last redemption is taken once however many orders race for it; a repeated
call for the same order is the same redemption (idempotent), and :meth:`Offers.release`
gives it back when the order is cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from emporium_kit.auth import Principal
from emporium_kit.clients import RedisStore
from emporium_kit.documents import now
from emporium_kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from emporium_kit.money import Money
from pymongo.errors import DuplicateKeyError

from emporium_cart import pricing
from emporium_cart.models import OfferCreate, OfferFields, OfferUpdate
from emporium_cart.products import Products
from emporium_cart.store import Keys, OffersDb, new_id

# KEYS: the coupon's redemptions {order: user}, the shopper's count.
# ARGV: order id, user id, total limit (-1: none), per-user limit (-1: none).
# -> {1, count} redeemed (or already, for this order), {-1, count} used up,
#    {-2, count} this shopper's limit reached, {-3, count} the order is another shopper's
REDEEM = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
local count = redis.call('HLEN', KEYS[1])
if owner then
  if owner == ARGV[2] then return {1, count} end
  return {-3, count}
end
local limit = tonumber(ARGV[3])
if limit >= 0 and count >= limit then return {-1, count} end
local per_user = tonumber(ARGV[4])
local mine = tonumber(redis.call('GET', KEYS[2]) or '0')
if per_user >= 0 and mine >= per_user then return {-2, count} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return {1, count + 1}
"""

# KEYS: the coupon's redemptions; ARGV: order id, the shopper's count key prefix.
# -> the count after; a release of an order never redeemed changes nothing
RELEASE = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner then
  redis.call('HDEL', KEYS[1], ARGV[1])
  local key = ARGV[2] .. owner
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return redis.call('HLEN', KEYS[1])
"""


@dataclass(frozen=True, slots=True)
class Redemption:
    offer_id: str
    code: str
    order_id: str
    redeemed: int  # the coupon's redemptions after this call
    remaining: int | None  # of its total limit; None: unlimited


class Offers:
    """``db`` holds the offers, ``redis`` the redemptions, ``products`` answers who owns a
    product (for sellers' offers); active offers are cached for ``cache_s`` per replica."""

    def __init__(
        self,
        db: OffersDb,
        redis: RedisStore,
        keys: Keys,
        products: Products,
        *,
        currency: str,
        cache_s: float,
    ) -> None:
        self.db = db
        self.redis = redis
        self.keys = keys
        self.products = products
        self.currency = currency
        self.cache_s = cache_s
        self._redeem = redis.client.register_script(REDEEM)
        self._release = redis.client.register_script(RELEASE)
        self._active: tuple[float, list[dict[str, Any]]] | None = None

    # -- reads -----------------------------------------------------------------------------

    async def get(self, offer_id: str) -> dict[str, Any] | None:
        return await self.db.offers.get(offer_id)

    async def listed(self, principal: Principal, *, limit: int = 200) -> list[dict[str, Any]]:
        """Every offer for an admin; a seller's own otherwise."""
        flt = {} if principal.is_admin else {"owner_seller_id": principal.seller_id}
        return await self.db.offers.find(flt, sort=[("_id", 1)], limit=limit)

    async def active(self) -> list[dict[str, Any]]:
        """The active offers without a coupon code, at most ``cache_s`` old."""
        cached = self._active
        if cached is not None and time.monotonic() - cached[0] < self.cache_s:
            return cached[1]
        docs = await self.db.offers.find({"active": True}, limit=1000)
        automatic = [doc for doc in docs if doc.get("coupon_code") is None]
        self._active = (time.monotonic(), automatic)
        return automatic

    async def by_codes(self, codes: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """The offer of each coupon code (``None``: no such code)."""
        found: dict[str, dict[str, Any] | None] = {}
        for code in codes:
            claim = await self.db.coupon_codes.get(code)
            found[code] = await self.get(claim["offer_id"]) if claim else None
        return found

    async def redemption_counts(
        self, offer_ids: Sequence[str], user_id: str | None
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Redemptions so far of each offer, in all and by ``user_id``."""
        if not offer_ids:
            return {}, {}
        async with self.redis.dependency.guard():
            pipe = self.redis.client.pipeline(transaction=False)
            for offer_id in offer_ids:
                pipe.hlen(self.keys.redeemed(offer_id))
                if user_id is not None:
                    pipe.get(self.keys.redeemed_by(offer_id, user_id))
            answers = await pipe.execute()
        step = 2 if user_id is not None else 1
        total = {o: int(answers[i * step]) for i, o in enumerate(offer_ids)}
        mine = (
            {o: int(answers[i * step + 1] or 0) for i, o in enumerate(offer_ids)}
            if user_id is not None
            else {}
        )
        return total, mine

    # -- writes ----------------------------------------------------------------------------

    async def create(self, *, principal: Principal, data: OfferCreate) -> dict[str, Any]:
        owner = await self._authorise(principal, data, at=["input"])
        at = now()
        offer_id = new_id()
        doc = {
            "_id": offer_id,
            **_fields(data),
            "owner_seller_id": owner,
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
        if data.coupon_code is not None:
            await self._claim_code(data.coupon_code, offer_id)
        await self.db.offers.insert(doc)
        self._active = None
        return doc

    async def update(self, *, principal: Principal, data: OfferUpdate) -> dict[str, Any]:
        current = await self.db.offers.get(data.id)
        if current is None or not _may_manage(principal, current):
            raise NotFound("OFFER_NOT_FOUND", "No such offer", ["input", "id"])
        await self._authorise(principal, data, at=["input"])
        new_code = data.coupon_code if data.coupon_code != current.get("coupon_code") else None
        if new_code is not None:
            await self._claim_code(new_code, data.id)

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
            return {**_fields(data), "updated_at": now()}, []

        try:
            doc = await self.db.offers.update(
                data.id,
                change,
                expected_version=data.expected_version,
                expected_version_at=["input", "expectedVersion"],
            )
        except Exception:
            if new_code is not None:  # the refused update must not keep the code it claimed
                await self.db.coupon_codes.delete_one({"_id": new_code, "offer_id": data.id})
            raise
        old_code = current.get("coupon_code")
        if old_code is not None and old_code != doc.get("coupon_code"):
            await self.db.coupon_codes.delete_one({"_id": old_code, "offer_id": data.id})
        self._active = None
        return doc

    async def _claim_code(self, code: str, offer_id: str) -> None:
        try:
            await self.db.coupon_codes.insert_one({"_id": code, "offer_id": offer_id})
        except DuplicateKeyError:
            raise Conflict(
                "COUPON_CODE_TAKEN", "Another offer has this coupon code", ["input", "couponCode"]
            ) from None

    async def _authorise(
        self, principal: Principal, data: OfferFields, *, at: list[str | int]
    ) -> str | None:
        """The offer's owning seller (``None`` for an admin's); a seller's offer must target
        only what it sells."""
        if principal.is_admin:
            return None
        seller = principal.seller_id
        if not principal.has_role("seller") or seller is None:
            raise Forbidden("FORBIDDEN", "Only admins and sellers manage offers")
        target = data.target
        field = [*at, "target", "values"]
        if target.kind == "SELLER":
            if set(target.values) != {seller}:
                raise Forbidden("NOT_YOUR_SELLER", "A seller's offer targets itself only", field)
        elif target.kind == "PRODUCT":
            states = await self.products.get(target.values)
            for index, product_id in enumerate(target.values):
                state = states.get(product_id)
                if state is None:
                    raise NotFound("PRODUCT_NOT_FOUND", f"No product {product_id}", [*field, index])
                if state.owner_seller_id != seller:
                    raise Forbidden(
                        "NOT_YOUR_PRODUCT", f"Product {product_id} is not yours", [*field, index]
                    )
        else:
            raise Forbidden(
                "SELLER_TARGET_REFUSED",
                "A seller's offer targets its own products or itself",
                [*at, "target", "kind"],
            )
        return seller

    # -- redemptions -----------------------------------------------------------------------

    async def redeem(self, *, user_id: str, code: str, order_id: str) -> Redemption:
        """Count one redemption of ``code`` for ``order_id`` (see the module doc)."""
        offer = (await self.by_codes([code]))[code]
        context = pricing.PricingContext(
            now=datetime.now(UTC), currency=self.currency, shipping_fee=Money.zero(self.currency)
        )
        rule = to_rule(offer, self.currency) if offer else None
        problem = pricing.coupon_problem(rule, context)
        if problem is not None and problem[0] not in ("COUPON_EXHAUSTED", "COUPON_USED"):
            raise coupon_error(*problem, ["input", "code"])
        assert offer is not None
        limit, per_user = offer.get("usage_limit"), offer.get("per_user_limit")
        async with self.redis.dependency.guard():
            outcome, count = await self._redeem(
                keys=[
                    self.keys.redeemed(offer["_id"]),
                    self.keys.redeemed_by(offer["_id"], user_id),
                ],
                args=[
                    order_id,
                    user_id,
                    -1 if limit is None else limit,
                    -1 if per_user is None else per_user,
                ],
            )
        if outcome == -1:
            raise coupon_error(
                "COUPON_EXHAUSTED", "This coupon has been used up", ["input", "code"]
            )
        if outcome == -2:
            raise coupon_error(
                "COUPON_USED", "You have already used this coupon", ["input", "code"]
            )
        if outcome == -3:
            raise Conflict(
                "ORDER_REDEEMED_BY_OTHER",
                "This order's redemption is another shopper's",
                ["input", "orderId"],
            )
        return Redemption(
            offer["_id"], code, order_id, count, None if limit is None else limit - count
        )

    async def release(self, *, code: str, order_id: str) -> Redemption:
        offer = (await self.by_codes([code]))[code]
        if offer is None:
            raise NotFound("COUPON_UNKNOWN", "No such coupon", ["input", "code"])
        async with self.redis.dependency.guard():
            count = await self._release(
                keys=[self.keys.redeemed(offer["_id"])],
                args=[order_id, self.keys.redeemed_by(offer["_id"], "")],
            )
        limit = offer.get("usage_limit")
        return Redemption(
            offer["_id"], code, order_id, count, None if limit is None else limit - count
        )


def coupon_error(code: str, message: str, field: list[str | int]) -> Exception:
    """A refused coupon: unknown is NOT_FOUND, anything else (expired, used up, minimum
    order not reached) a validation failure, both naming ``field``."""
    if code == "COUPON_UNKNOWN":
        return NotFound(code, message, field)
    return ValidationFailed(code, message, field)


def _may_manage(principal: Principal, offer: Mapping[str, Any]) -> bool:
    if principal.is_admin:
        return True
    return principal.seller_id is not None and offer.get("owner_seller_id") == principal.seller_id


def _fields(data: OfferFields) -> dict[str, Any]:
    fields = data.model_dump(mode="python", exclude={"id", "expected_version"})
    benefit = fields["benefit"]
    if benefit.get("percent") is not None:
        benefit["percent"] = str(benefit["percent"])
    for tier in benefit.get("tiers", []):
        if tier.get("percent") is not None:
            tier["percent"] = str(tier["percent"])
    return fields


def to_rule(doc: Mapping[str, Any], currency: str) -> pricing.Rule:
    """The engine's rule for an offer document (amounts in the cart's currency)."""

    def money(amount: int | None) -> Money | None:
        return None if amount is None else Money(amount, currency)

    def percent(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    benefit = doc["benefit"]
    return pricing.Rule(
        rule_id=doc["_id"],
        label=doc["label"],
        target=pricing.Target(
            pricing.TargetKind(doc["target"]["kind"]), frozenset(doc["target"]["values"])
        ),
        benefit=pricing.Benefit(
            kind=pricing.BenefitKind(benefit["kind"]),
            percent=percent(benefit.get("percent")),
            amount=money(benefit.get("amount")),
            per_unit=benefit.get("per_unit", False),
            buy=benefit.get("buy", 0),
            get=benefit.get("get", 0),
            tiers=tuple(
                pricing.Tier(
                    threshold=Money(tier["threshold"], currency),
                    percent=percent(tier.get("percent")),
                    amount=money(tier.get("amount")),
                )
                for tier in benefit.get("tiers", [])
            ),
        ),
        priority=doc.get("priority", 0),
        stacking=pricing.Stacking(doc.get("stacking", "COMBINABLE")),
        min_subtotal=money(doc.get("min_subtotal")),
        coupon_code=doc.get("coupon_code"),
        starts_at=_utc(doc.get("starts_at")),
        ends_at=_utc(doc.get("ends_at")),
        usage_limit=doc.get("usage_limit"),
        per_user_limit=doc.get("per_user_limit"),
        active=doc.get("active", True),
    )


MAX_DEALS = 50


def running_deals(active: Iterable[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The code-free offers whose window holds ``now``, highest priority first (then by
    label): what the shop advertises as its deals."""
    running = [
        doc
        for doc in active
        if (starts := _utc(doc.get("starts_at"))) is None or starts <= now
        if (ends := _utc(doc.get("ends_at"))) is None or now < ends
    ]
    return sorted(running, key=lambda doc: (-int(doc.get("priority", 0)), str(doc["label"])))


def _utc(moment: datetime | None) -> datetime | None:
    """BSON dates come back naive unless the client is tz-aware; both mean UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
