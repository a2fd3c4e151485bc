import pytest

pytestmark = pytest.mark.integration


async def test_smoke(gql, world):
    data = await gql.ok(
        """mutation($i: CreateProductInput!) { createProduct(input: $i) { id slug name price { amount currency formatted } category { id name ancestors { name } } version } }""",
        {
            "i": {
                "name": "Phone X",
                "brand": "Acme",
                "categoryId": world.leaf,
                "sku": "ACME-X-1",
                "price": {"amount": 129900, "currency": "USD"},
            }
        },
        roles=["admin"],
    )
    print(data)
    pid = data["createProduct"]["id"]
    print(
        await gql.ok(
            "query($id: ID!) { product(id: $id) { id name listings { sku } } }", {"id": pid}
        )
    )
    print(
        await gql.ok(
            '{ products(filter: {categoryId: "%s"}, first: 5) { totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }'
            % world.root
        )
    )
    print(
        await gql.error(
            """mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }""",
            {
                "i": {
                    "name": "",
                    "brand": "Acme",
                    "categoryId": world.leaf,
                    "sku": "x",
                    "price": {"amount": -1, "currency": "usd"},
                }
            },
            roles=["admin"],
        )
    )
