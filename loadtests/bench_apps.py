"""The catalog app plus a plain JSON route over the same service call, for bench_catalog.py.

Both paths live in one process with one set of clients and middleware, so the measured
difference is the GraphQL layer alone. Not part of the service: benchmarks only.
"""

from __future__ import annotations

from emporium_catalog import products
from emporium_catalog.app import create_app
from emporium_kit.responses import OrjsonResponse
from fastapi import HTTPException

app = create_app()


@app.get("/bench/products/{product_id}")
async def product_json(product_id: str, cached: bool = True) -> OrjsonResponse:
    catalog = app.state.catalog
    product = await products.get_product(
        db=catalog.db, cache=catalog.cache if cached else None, product_id=product_id
    )
    if product is None:
        raise HTTPException(status_code=404)
    # the same fields the GraphQL query selects, so both paths serialise alike
    return OrjsonResponse(
        {
            "data": {
                "product": {
                    "id": product.id,
                    "name": product.name,
                    "brand": product.brand,
                    "price": product.price.model_dump(mode="json"),
                    "availability": product.availability,
                }
            }
        }
    )
