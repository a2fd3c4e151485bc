"""The cart aggregate in Redis: whose cart, the changes, optimistic versioning, merge.

A cart is one Redis hash ``cart:<id>`` = ``{v: version, doc: JSON}``::

    {"id", "owner": user id | null, "version", "lines": [LINE...], "saved": [LINE...],
     "coupons": ["CODE"...], "updated_at"}
    LINE = {"product_id", "quantity", "added_price": {"amount", "currency"}, "added_at"}

A signed-in shopper's cart is ``u-<user id>``; a guest's is ``g-<sha256 of its token>`` (the
token itself is never stored). A guest cart merged into an account becomes a tombstone
``{"merged_into": user id}`` until it expires, so its token can no longer be used, and never
by another account.

**Concurrency.** Every change is a function of the current cart (:data:`Change`): WATCH the
key, read, compute, then MULTI/EXEC the new document with version + 1 and a PUBLISH of
``"<id> <version>"`` on the updates channel. A concurrent writer makes EXEC fail and the
change is computed again on what that writer left, so no update is ever lost; a change that
raises writes nothing. ``expected_version`` refuses a change when the client's view is stale.

**Expiry.** Each write sets the cart's idle expiry: ``cart_guest_ttl_s`` for a guest,
``cart_user_ttl_s`` for an account. Re-pricing after a catalog event keeps the expiry.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from emporium_kit.auth import Principal
from emporium_kit.clients import RedisStore
from emporium_kit.documents import now
from emporium_kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from redis.exceptions import WatchError

from emporium_cart.models import ProductState
from emporium_cart.settings import CartSettings
from emporium_cart.store import Keys

Doc = dict[str, Any]
# current cart -> the new one, or None for "no change"; raises a DomainError to refuse
Change = Callable[[Doc], Doc | None]
MAX_ATTEMPTS = 50
T = TypeVar("T")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def guest_cart_id(token: str) -> str:
    return "g-" + hashlib.sha256(token.encode()).hexdigest()[:40]


def user_cart_id(user_id: str) -> str:
    return f"u-{user_id}"


@dataclass(frozen=True, slots=True)
class CartKey:
    id: str
    owner: str | None  # the account, or None for a guest cart
    ttl_s: int
    at: tuple[str | int, ...] = ("input", "cartToken")  # where the cart was named


def empty(key: CartKey) -> Doc:
    return {"id": key.id, "owner": key.owner, "version": 0, "lines": [], "saved": [], "coupons": []}


@dataclass
class MergeReport:
    """What a merge did with each guest line: ``MERGED``, ``CAPPED`` (the per-line limit
    cut it), ``DROPPED`` (the cart was full); and the coupons carried over."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    coupons: list[str] = field(default_factory=list)
    already_merged: bool = False


class Carts:
    def __init__(self, redis: RedisStore, keys: Keys, settings: CartSettings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings

    # -- whose cart --------------------------------------------------------------------------

    async def key_for(
        self,
        principal: Principal | None,
        token: str | None,
        *,
        at: Sequence[str | int] = ("input", "cartToken"),
    ) -> CartKey:
        """The cart a request names: a guest's by ``token``, else the signed-in shopper's.
        A merged guest token is refused, naming ``at``."""
        if token is not None:
            key = CartKey(guest_cart_id(token), None, self.settings.cart_guest_ttl_s, tuple(at))
            doc = await self.read(key)
            merged_into = doc.get("merged_into")
            if merged_into is not None:
                if principal is not None and principal.subject == merged_into:
                    raise Conflict(
                        "CART_MERGED",
                        "This guest cart was merged into your account's cart; use that one",
                        list(at),
                    )
                raise Forbidden(
                    "CART_TOKEN_FORBIDDEN", "This cart belongs to another account", list(at)
                )
            if doc["version"] == 0:
                raise NotFound(
                    "CART_NOT_FOUND", "No cart has this token (it may have expired)", list(at)
                )
            return key
        if principal is None:
            raise Unauthenticated(
                "CART_TOKEN_REQUIRED", "Sign in, or pass a guest cart's token", list(at)
            )
        return self.user_key(principal.subject)

    def user_key(self, user_id: str) -> CartKey:
        return CartKey(user_cart_id(user_id), user_id, self.settings.cart_user_ttl_s)

    def key_of(self, cart_id: str) -> CartKey:
        """The key of a stored cart by id (catalog events re-price carts by id)."""
        if cart_id.startswith("u-"):
            return self.user_key(cart_id[2:])
        return CartKey(cart_id, None, self.settings.cart_guest_ttl_s)

    # -- reading and writing -----------------------------------------------------------------

    async def read(self, key: CartKey) -> Doc:
        async with self.redis.dependency.guard():
            raw = await self.redis.client.hget(self.keys.cart(key.id), "doc")
        return orjson.loads(raw) if raw is not None else empty(key)

    async def create_guest(self) -> tuple[str, Doc]:
        token = new_token()
        key = CartKey(guest_cart_id(token), None, self.settings.cart_guest_ttl_s)
        doc = await self.change(key, lambda current: current)
        return token, doc

    async def change(
        self,
        key: CartKey,
        change: Change,
        *,
        expected_version: int | None = None,
        keep_ttl: bool = False,
    ) -> Doc:
        """Apply ``change`` atomically (see the module doc); the cart as written, or as it
        is when the change is no change."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self._attempt(key, change, expected_version, keep_ttl)
            except WatchError:
                # another writer got in between: recompute on its result, with jitter so two
                # writers do not keep colliding in step
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise Conflict("CART_BUSY", "The cart is being changed by many requests at once; retry")

    async def _guarded(self, transaction: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``transaction(pipeline)`` behind the Redis breaker; a refused change and a
        lost race are answers, not Redis failures, so they leave the guard before raising."""
        outcome: Exception
        async with self.redis.dependency.guard(), self.redis.client.pipeline() as pipe:
            try:
                return await transaction(pipe)
            except (WatchError, DomainError) as exc:
                outcome = exc
        raise outcome

    async def _attempt(
        self, key: CartKey, change: Change, expected_version: int | None, keep_ttl: bool
    ) -> Doc:
        redis_key = self.keys.cart(key.id)

        async def transaction(pipe: Any) -> Doc:
            await pipe.watch(redis_key)
            raw = await pipe.hget(redis_key, "doc")
            current = orjson.loads(raw) if raw is not None else empty(key)
            if expected_version is not None and current["version"] != expected_version:
                raise Conflict(
                    "VERSION_CONFLICT",
                    f"The cart is at version {current['version']}, not {expected_version}",
                    [*key.at[:-1], "expectedVersion"],
                )
            changed = change(_copy(current))
            if changed is None:
                await pipe.unwatch()
                return current
            changed["version"] = current["version"] + 1
            changed["updated_at"] = now().isoformat()
            self._write(pipe, key, changed, keep_ttl)
            await pipe.execute()
            return changed

        return await self._guarded(transaction)

    def _write(self, pipe: Any, key: CartKey, doc: Doc, keep_ttl: bool) -> None:
        redis_key = self.keys.cart(key.id)
        pipe.multi()
        pipe.hset(redis_key, mapping={"v": doc["version"], "doc": orjson.dumps(doc)})
        if not keep_ttl:
            pipe.expire(redis_key, key.ttl_s)
        for line in [*doc.get("lines", []), *doc.get("saved", [])]:
            index = self.keys.product_carts(line["product_id"])
            pipe.sadd(index, key.id)
            pipe.expire(index, self.settings.cart_user_ttl_s)
        pipe.publish(self.keys.updates, f"{key.id} {doc['version']}")

    async def merge(self, *, user_id: str, token: str) -> tuple[Doc, MergeReport]:
        """Merge the guest cart of ``token`` into ``user_id``'s (both carts in one
        transaction); merging an already merged cart again reports nothing new."""
        guest = CartKey(guest_cart_id(token), None, self.settings.cart_guest_ttl_s, ("guestToken",))
        user = self.user_key(user_id)
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self._merge_attempt(guest, user)
            except WatchError:
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise Conflict("CART_BUSY", "The cart is being changed by many requests at once; retry")

    async def _merge_attempt(self, guest: CartKey, user: CartKey) -> tuple[Doc, MergeReport]:
        guest_key, user_key = self.keys.cart(guest.id), self.keys.cart(user.id)
        field = list(guest.at)

        async def transaction(pipe: Any) -> tuple[Doc, MergeReport]:
            await pipe.watch(guest_key, user_key)
            raw_guest = await pipe.hget(guest_key, "doc")
            raw_user = await pipe.hget(user_key, "doc")
            source = orjson.loads(raw_guest) if raw_guest is not None else None
            target = orjson.loads(raw_user) if raw_user is not None else empty(user)
            if source is None:
                raise NotFound(
                    "CART_NOT_FOUND", "No cart has this token (it may have expired)", field
                )
            if source.get("merged_into") is not None:
                if source["merged_into"] != user.owner:
                    raise Forbidden(
                        "CART_TOKEN_FORBIDDEN", "This cart belongs to another account", field
                    )
                await pipe.unwatch()
                return target, MergeReport(already_merged=True)
            merged, report = merge_docs(target, source, self.settings)
            merged["version"] = target["version"] + 1
            merged["updated_at"] = now().isoformat()
            tombstone = {
                **empty(guest),
                "merged_into": user.owner,
                "version": source["version"] + 1,
            }
            self._write(pipe, user, merged, keep_ttl=False)
            pipe.hset(
                guest_key, mapping={"v": tombstone["version"], "doc": orjson.dumps(tombstone)}
            )
            pipe.expire(guest_key, guest.ttl_s)
            pipe.publish(self.keys.updates, f"{guest.id} {tombstone['version']}")
            await pipe.execute()
            return merged, report

        return await self._guarded(transaction)

    async def carts_holding(self, product_id: str) -> list[str]:
        async with self.redis.dependency.guard():
            members = await self.redis.client.smembers(self.keys.product_carts(product_id))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def forget(self, product_id: str, cart_id: str) -> None:
        async with self.redis.dependency.guard():
            await self.redis.client.srem(self.keys.product_carts(product_id), cart_id)


def _copy(doc: Doc) -> Doc:
    copied: Doc = orjson.loads(orjson.dumps(doc))
    return copied


def _find(lines: list[dict[str, Any]], product_id: str) -> dict[str, Any] | None:
    return next((line for line in lines if line["product_id"] == product_id), None)


# -- the changes: pure functions of the current cart -------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    max_quantity: int
    max_lines: int
    max_coupons: int

    @classmethod
    def of(cls, settings: CartSettings) -> Limits:
        return cls(
            settings.cart_max_line_quantity, settings.cart_max_lines, settings.cart_max_coupons
        )


def check_orderable(
    state: ProductState | None, product_id: str, currency: str, at: list[str | int]
) -> ProductState:
    if state is None:
        raise NotFound("PRODUCT_NOT_FOUND", f"No product {product_id}", at)
    if state.status == "ARCHIVED":
        raise ValidationFailed("PRODUCT_ARCHIVED", f"{state.name} is no longer sold", at)
    if not state.orderable:
        raise ValidationFailed("PRODUCT_UNAVAILABLE", f"{state.name} is not available", at)
    if state.price.currency != currency:
        raise ValidationFailed(
            "PRODUCT_CURRENCY",
            f"{state.name} is priced in {state.price.currency}, not {currency}",
            at,
        )
    return state


def too_many(quantity: int, limits: Limits) -> ValidationFailed:
    return ValidationFailed(
        "QUANTITY_TOO_LARGE",
        f"At most {limits.max_quantity} of one product per cart (this would make {quantity})",
        ["input", "quantity"],
    )


def add_line(state: ProductState, quantity: int, limits: Limits) -> Callable[[Doc], Doc]:
    def change(cart: Doc) -> Doc:
        line = _find(cart["lines"], state.id)
        total = quantity + (line["quantity"] if line else 0)
        if total > limits.max_quantity:
            raise too_many(total, limits)
        if line is not None:
            line["quantity"] = total
        else:
            if len(cart["lines"]) >= limits.max_lines:
                raise ValidationFailed(
                    "CART_FULL",
                    f"A cart holds at most {limits.max_lines} products",
                    ["input", "productId"],
                )
            cart["lines"].append(_new_line(state, total))
        cart["saved"] = [s for s in cart["saved"] if s["product_id"] != state.id]
        return cart

    return change


def _new_line(state: ProductState, quantity: int) -> dict[str, Any]:
    return {
        "product_id": state.id,
        "quantity": quantity,
        "added_price": state.price.model_dump(),
        "added_at": now().isoformat(),
    }


def set_quantity(
    product_id: str, quantity: int, limits: Limits, state: ProductState | None
) -> Change:
    def change(cart: Doc) -> Doc:
        line = _find(cart["lines"], product_id)
        if line is None:
            raise NotFound(
                "LINE_NOT_FOUND", "This product is not in the cart", ["input", "productId"]
            )
        if quantity > limits.max_quantity:
            raise too_many(quantity, limits)
        if quantity > line["quantity"] and (state is None or not state.orderable):
            raise ValidationFailed(
                "PRODUCT_UNAVAILABLE", "This product is not available", ["input", "productId"]
            )
        if quantity == 0:
            cart["lines"].remove(line)
        else:
            line["quantity"] = quantity
        return cart

    return change


def remove_line(product_id: str) -> Change:
    def change(cart: Doc) -> Doc:
        line = _find(cart["lines"], product_id)
        if line is None:
            raise NotFound(
                "LINE_NOT_FOUND", "This product is not in the cart", ["input", "productId"]
            )
        cart["lines"].remove(line)
        return cart

    return change


def clear(cart: Doc) -> Doc | None:
    if not cart["lines"] and not cart["coupons"]:
        return None
    cart["lines"], cart["coupons"] = [], []
    return cart


def save_for_later(product_id: str, limits: Limits) -> Change:
    def change(cart: Doc) -> Doc:
        line = _find(cart["lines"], product_id)
        if line is None:
            raise NotFound(
                "LINE_NOT_FOUND", "This product is not in the cart", ["input", "productId"]
            )
        cart["lines"].remove(line)
        saved = _find(cart["saved"], product_id)
        if saved is not None:
            saved["quantity"] = min(limits.max_quantity, saved["quantity"] + line["quantity"])
        elif len(cart["saved"]) >= limits.max_lines:
            raise ValidationFailed(
                "SAVED_FULL",
                f"At most {limits.max_lines} products are saved for later",
                ["input", "productId"],
            )
        else:
            cart["saved"].append(line)
        return cart

    return change


def move_to_cart(product_id: str, limits: Limits, state: ProductState, currency: str) -> Change:
    def change(cart: Doc) -> Doc:
        saved = _find(cart["saved"], product_id)
        if saved is None:
            raise NotFound(
                "LINE_NOT_FOUND", "This product is not saved for later", ["input", "productId"]
            )
        check_orderable(state, product_id, currency, ["input", "productId"])
        cart["saved"].remove(saved)
        cart = add_line(state, saved["quantity"], limits)(cart)
        moved = _find(cart["lines"], product_id)
        assert moved is not None
        if moved["quantity"] == saved["quantity"]:  # a fresh line keeps the saved line's history
            moved["added_price"] = saved["added_price"]
            moved["added_at"] = saved.get("added_at", moved["added_at"])
        return cart

    return change


def add_coupon(code: str, limits: Limits) -> Change:
    def change(cart: Doc) -> Doc | None:
        if code in cart["coupons"]:
            return None
        if len(cart["coupons"]) >= limits.max_coupons:
            raise ValidationFailed(
                "TOO_MANY_COUPONS",
                f"At most {limits.max_coupons} coupons per cart",
                ["input", "code"],
            )
        cart["coupons"].append(code)
        return cart

    return change


def remove_coupon(code: str) -> Change:
    def change(cart: Doc) -> Doc:
        if code not in cart["coupons"]:
            raise NotFound(
                "COUPON_NOT_APPLIED", "This coupon is not applied to the cart", ["input", "code"]
            )
        cart["coupons"].remove(code)
        return cart

    return change


def touch(product_id: str) -> Change:
    """A catalog change of a product: a new version (and an update to subscribers) for a
    cart that holds it, nothing for one that no longer does."""

    def change(cart: Doc) -> Doc | None:
        if cart.get("merged_into") or not any(
            line["product_id"] == product_id for line in [*cart["lines"], *cart["saved"]]
        ):
            return None
        return cart

    return change


def merge_docs(target: Doc, source: Doc, settings: CartSettings) -> tuple[Doc, MergeReport]:
    """``source``'s lines, saved lines and coupons added to ``target``'s within the limits."""
    limits = Limits.of(settings)
    merged = _copy(target)
    report = MergeReport()
    for line in source["lines"]:
        requested = line["quantity"]
        existing = _find(merged["lines"], line["product_id"])
        if existing is None and len(merged["lines"]) >= limits.max_lines:
            report.lines.append(
                _outcome(
                    line,
                    requested=requested,
                    added=0,
                    quantity=0,
                    outcome="DROPPED",
                    reason="The cart is full",
                )
            )
            continue
        before = existing["quantity"] if existing else 0
        quantity = min(limits.max_quantity, before + requested)
        if existing is None:
            merged["lines"].append({**line, "quantity": quantity})
        else:
            existing["quantity"] = quantity
        merged["saved"] = [s for s in merged["saved"] if s["product_id"] != line["product_id"]]
        capped = quantity < before + requested
        report.lines.append(
            _outcome(
                line,
                requested=requested,
                added=quantity - before,
                quantity=quantity,
                outcome="CAPPED" if capped else "MERGED",
                reason=f"At most {limits.max_quantity} of one product" if capped else None,
            )
        )
    for line in source["saved"]:
        if _find(merged["lines"], line["product_id"]) or _find(merged["saved"], line["product_id"]):
            continue
        if len(merged["saved"]) < limits.max_lines:
            merged["saved"].append(line)
    for code in source["coupons"]:
        if code not in merged["coupons"] and len(merged["coupons"]) < limits.max_coupons:
            merged["coupons"].append(code)
            report.coupons.append(code)
    return merged, report


def _outcome(
    line: dict[str, Any],
    *,
    requested: int,
    added: int,
    quantity: int,
    outcome: str,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "product_id": line["product_id"],
        "requested": requested,
        "added": added,
        "quantity": quantity,
        "outcome": outcome,
        "reason": reason,
    }
