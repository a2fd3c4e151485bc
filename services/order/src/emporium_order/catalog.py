"""The catalog's prices, read through its subgraph: an order's lines are priced at what the
catalog says at the moment of placing, never at what a client sends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from emporium_kit.errors import ValidationFailed
from emporium_kit.resilience import Dependency

from emporium_order.models import LineInput, Money

PRODUCT = """
query($id: ID!) {
  product(id: $id) {
    id status sku ownerSellerId price { amount currency }
    listings { sellerId sku price { amount currency } }
  }
}
"""


class CatalogError(RuntimeError):
    """The catalog answered with errors."""


class CatalogPrices:
    def __init__(self, url: str, *, http: httpx.AsyncClient, dependency: Dependency) -> None:
        self.url = url
        self.dependency = dependency
        self._http = http

    async def _product(self, product_id: str) -> dict[str, Any] | None:
        async with self.dependency.guard():
            response = await self._http.post(
                self.url,
                content=orjson.dumps({"query": PRODUCT, "variables": {"id": product_id}}),
                headers={"content-type": "application/json"},
            )
        if response.status_code >= 500:
            response.raise_for_status()
        body = orjson.loads(response.content)
        if body.get("errors"):
            raise CatalogError("; ".join(str(e.get("message")) for e in body["errors"]))
        product: dict[str, Any] | None = body["data"]["product"]
        return product

    async def price(self, lines: Sequence[LineInput]) -> list[tuple[LineInput, str, Money]]:
        """Each line with its seller and unit price; a product or SKU the catalog does not
        sell is refused naming the line's field."""
        products = await asyncio.gather(*(self._product(line.product_id) for line in lines))
        priced: list[tuple[LineInput, str, Money]] = []
        for index, (line, product) in enumerate(zip(lines, products, strict=True)):
            at: list[str | int] = ["input", "lines", index]
            if product is None or product["status"] != "ACTIVE":
                raise ValidationFailed(
                    "PRODUCT_NOT_FOUND", "no such product on sale", [*at, "productId"]
                )
            # the owner's own offer (the product's SKU), then the seller listings
            offers = [*product["listings"]]
            if product.get("ownerSellerId"):
                offers.insert(
                    0,
                    {
                        "sellerId": product["ownerSellerId"],
                        "sku": product["sku"],
                        "price": product["price"],
                    },
                )
            listing = next((x for x in offers if x["sku"] == line.sku), None)
            if listing is None:
                raise ValidationFailed("SKU_NOT_FOUND", "the product has no such SKU", [*at, "sku"])
            priced.append((line, listing["sellerId"], Money(**listing["price"])))
        currencies = {money.currency for _, _, money in priced}
        if len(currencies) > 1:
            raise ValidationFailed(
                "MIXED_CURRENCIES", "an order is paid in one currency", ["input", "lines"]
            )
        return priced
