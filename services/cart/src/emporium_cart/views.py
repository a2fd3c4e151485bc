"""A cart as the shopper reads it: every line with its current price and availability, and
the whole cart priced by the offer engine (:mod:`emporium_cart.pricing`) on every read.

- A line's ``unit_price`` is the catalog's price now (the event-carried product state) and
  ``unit_price_at_add`` what it was when the line was added; ``price_change`` says ``UP`` or
  ``DOWN`` when they differ.
- A line whose product is archived, out of stock or discontinued is shown (``available:
  false``, ``availability`` says why) but not priced: it is not part of the subtotal.
- While the catalog cannot be reached for a product the cart has never seen, its line keeps
  the price it was added at (``availability: UNKNOWN``).
- Coupons entered on the cart apply when still valid; one that went stale (expired, used
  up) stays on the cart and its ``notApplied`` entry says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from emporium_kit.money import Money
from emporium_kit.resilience import DependencyUnavailable

from emporium_cart import pricing
from emporium_cart.carts import Doc
from emporium_cart.models import ProductState
from emporium_cart.offers import Offers, to_rule
from emporium_cart.products import Products

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineView:
    product_id: str
    name: str
    # the offer an order of the line buys: the product's own (its owner's) SKU and seller
    sku: str | None
    seller_id: str | None
    quantity: int
    unit_price: Money
    unit_price_at_add: Money
    price_change: str  # NONE | UP | DOWN
    available: bool
    availability: str  # the catalog's, ARCHIVED, or UNKNOWN
    added_at: str
    price: pricing.LinePrice | None  # None: not priced (unavailable, or saved for later)

    @property
    def subtotal(self) -> Money:
        return self.price.subtotal if self.price else Money.zero(self.unit_price.currency)

    @property
    def total(self) -> Money:
        return self.price.total if self.price else Money.zero(self.unit_price.currency)


@dataclass(frozen=True, slots=True)
class CartView:
    id: str
    version: int
    currency: str
    lines: list[LineView]
    saved: list[LineView]
    coupons: list[str]
    # the coupons that apply now: what placing an order of the cart redeems
    applied_coupons: list[str]
    pricing: pricing.Pricing
    updated_at: str | None

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class Viewer:
    products: Products
    offers: Offers
    currency: str
    shipping_fee: int

    async def view(self, doc: Doc, *, user_id: str | None) -> CartView:
        entries = [*doc.get("lines", []), *doc.get("saved", [])]
        try:
            states = await self.products.get(e["product_id"] for e in entries)
        except DependencyUnavailable:
            log.warning("product states unavailable: pricing the cart at the prices added")
            states = {}
        paths = await self.products.category_paths({s.category_id for s in states.values()})
        lines = [self._line(e, states.get(e["product_id"])) for e in doc.get("lines", [])]
        priced = [line for line in lines if line.available]
        engine_lines = [
            pricing.Line(
                line_id=line.product_id,
                product_id=line.product_id,
                unit_price=line.unit_price,
                quantity=line.quantity,
                category_path=paths.get(states[line.product_id].category_id, ())
                if line.product_id in states
                else (),
                brand=states[line.product_id].brand if line.product_id in states else "",
                seller_id=states[line.product_id].owner_seller_id
                if line.product_id in states
                else None,
            )
            for line in priced
        ]
        coupons = list(doc.get("coupons", []))
        result = await self.price(engine_lines, coupons, user_id=user_id)
        by_line = {line.line_id: line for line in result.lines}
        not_applied = {n.rule_id for n in result.not_applied}
        offers = await self.offers.by_codes(coupons) if coupons else {}
        applied = [
            code
            for code in coupons
            if (offer := offers.get(code)) is not None and offer["_id"] not in not_applied
        ]
        return CartView(
            id=doc["id"],
            version=doc["version"],
            currency=self.currency,
            lines=[replace(line, price=by_line.get(line.product_id)) for line in lines],
            saved=[self._line(e, states.get(e["product_id"])) for e in doc.get("saved", [])],
            coupons=coupons,
            applied_coupons=applied,
            pricing=result,
            updated_at=doc.get("updated_at"),
        )

    async def price(
        self, lines: list[pricing.Line], coupons: list[str], *, user_id: str | None
    ) -> pricing.Pricing:
        docs = list(await self.offers.active())
        if coupons:
            docs += [doc for doc in (await self.offers.by_codes(coupons)).values() if doc]
        rules = [to_rule(doc, self.currency) for doc in docs]
        coupon_ids = [rule.rule_id for rule in rules if rule.coupon_code is not None]
        total, mine = await self.offers.redemption_counts(coupon_ids, user_id)
        context = pricing.PricingContext(
            now=datetime.now(UTC),
            currency=self.currency,
            shipping_fee=Money(self.shipping_fee, self.currency),
            user_id=user_id,
            redemptions=total,
            user_redemptions=mine,
        )
        return pricing.price_cart(lines, rules, context, coupon_codes=coupons)

    def _line(self, entry: dict[str, Any], state: ProductState | None) -> LineView:
        added = Money(entry["added_price"]["amount"], entry["added_price"]["currency"])
        sku = seller_id = None
        if state is None:
            unit, available, availability, name = added, True, "UNKNOWN", ""
        else:
            sku, seller_id = state.sku, state.owner_seller_id
            unit = Money(state.price.amount, state.price.currency)
            available = state.orderable and unit.currency == self.currency
            availability = "ARCHIVED" if state.status == "ARCHIVED" else state.availability
            name = state.name
        change = "NONE"
        if unit.currency == added.currency and unit.amount != added.amount:
            change = "UP" if unit.amount > added.amount else "DOWN"
        return LineView(
            product_id=entry["product_id"],
            name=name,
            sku=sku,
            seller_id=seller_id,
            quantity=entry["quantity"],
            unit_price=unit,
            unit_price_at_add=added,
            price_change=change,
            available=available,
            availability=availability,
            added_at=entry.get("added_at", ""),
            price=None,
        )


def graphql_cart(cart: CartView) -> dict[str, Any]:
    """``cart`` as the API's ``Cart``: plain dicts and lists, so the kit's direct completion
    path serves the many small objects (every ``Money``) without a resolver call each."""
    return {
        "id": cart.id,
        "version": cart.version,
        "currency": cart.currency,
        "lines": [_graphql_line(line) for line in cart.lines],
        "saved_for_later": [_graphql_line(line) for line in cart.saved],
        "item_count": cart.item_count,
        "coupons": cart.coupons,
        "applied_coupons": cart.applied_coupons,
        "pricing": {
            "subtotal": _money(cart.pricing.subtotal),
            "discounts": [_discount(d) for d in cart.pricing.discounts],
            "discount_total": _money(cart.pricing.discount_total),
            "shipping": _money(cart.pricing.shipping),
            "shipping_discount": _money(cart.pricing.shipping_discount),
            "total": _money(cart.pricing.total),
            "not_applied": [
                {"offer_id": n.rule_id, "label": n.label, "reason": n.reason, "code": n.code}
                for n in cart.pricing.not_applied
            ],
        },
        "updated_at": cart.updated_at,
    }


def _graphql_line(line: LineView) -> dict[str, Any]:
    return {
        "id": line.product_id,
        "product": {"id": line.product_id},
        "name": line.name,
        "sku": line.sku,
        "seller_id": line.seller_id,
        "quantity": line.quantity,
        "unit_price": _money(line.unit_price),
        "unit_price_at_add": _money(line.unit_price_at_add),
        "price_change": line.price_change,
        "available": line.available,
        "availability": line.availability,
        "subtotal": _money(line.subtotal),
        "discounts": [_discount(d) for d in line.price.discounts] if line.price else [],
        "total": _money(line.total),
        "added_at": line.added_at or None,
    }


def _money(money: Money) -> dict[str, Any]:
    return {"amount": money.amount, "currency": money.currency, "formatted": money.formatted()}


def _discount(discount: pricing.Discount) -> dict[str, Any]:
    return {
        "offer_id": discount.rule_id,
        "label": discount.label,
        "amount": _money(discount.amount),
    }
