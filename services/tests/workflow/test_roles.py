"""Roles decide what a client may change: an admin makes a customer a seller, the seller's next
token lets it write the catalog through the gateway; a customer is refused before anything is
written."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_platform.harness import GraphQLClient
from pymongo.database import Database

from .conftest import Account, CatalogSeed, claims_of, code, data, error, refresh, register

pytestmark = pytest.mark.workflow


def product_input(seed: CatalogSeed, sku: str) -> dict[str, Any]:
    return {
        "name": f"Workflow Lamp {sku}",
        "brand": "Lumen",
        "categoryId": seed.category_id,
        "sku": sku,
        "price": {"amount": 4_999, "currency": "EUR"},
    }


def catalog_snapshot(catalog_db: Database[Any]) -> list[tuple[str, int]]:
    return sorted((d["_id"], d["version"]) for d in catalog_db["products"].find({}, {"version": 1}))


def test_admin_grants_seller_role_and_the_seller_creates_a_product(
    gateway: GraphQLClient, admin: Account, catalog_seed: CatalogSeed, run_id: str
) -> None:
    user = register(gateway)
    granted = data(
        gateway.run(
            "GrantRole",
            {"userId": user.user_id, "role": "SELLER", "sellerId": catalog_seed.seller_id},
            token=admin.access_token,
        )
    )["grantRole"]
    assert granted["roles"] == ["CUSTOMER", "SELLER"]
    assert granted["sellerId"] == catalog_seed.seller_id

    # the role shows from the next token on: the current one still says customer
    sku = f"WF-SELLER-{run_id.upper()}"
    early = gateway.run(
        "CreateProduct", {"input": product_input(catalog_seed, sku)}, token=user.access_token
    )
    assert early.status_code == 403
    assert code(early) == "MISSING_SCOPE"

    seller = refresh(gateway, user)
    claims = claims_of(seller.access_token)
    assert claims["roles"] == ["customer", "seller"]
    assert claims["seller_id"] == catalog_seed.seller_id
    assert "catalog:write" in claims["scope"].split()

    created = data(
        gateway.run(
            "CreateProduct", {"input": product_input(catalog_seed, sku)}, token=seller.access_token
        )
    )["createProduct"]
    assert created["sku"] == sku
    assert created["ownerSellerId"] == catalog_seed.seller_id
    assert created["price"] == {"amount": 4_999, "currency": "EUR", "formatted": "€49.99"}
    # anyone can read it through the same endpoint
    product = data(gateway.run("ProductById", {"id": created["id"]}))["product"]
    assert product["name"] == f"Workflow Lamp {sku}"
    assert product["category"]["id"] == catalog_seed.category_id


def test_customer_gets_a_clear_authorization_error_and_nothing_is_written(
    gateway: GraphQLClient, catalog_seed: CatalogSeed, catalog_db: Database[Any], run_id: str
) -> None:
    customer = register(gateway)
    before = catalog_snapshot(catalog_db)
    refused = gateway.run(
        "CreateProduct",
        {"input": product_input(catalog_seed, f"WF-CUSTOMER-{run_id.upper()}")},
        token=customer.access_token,
    )
    assert refused.status_code == 403
    problem = error(refused)
    assert problem["message"] == "Mutation.createProduct requires catalog:write"
    assert problem["extensions"]["code"] == "MISSING_SCOPE"
    assert catalog_snapshot(catalog_db) == before

    anonymous = gateway.run(
        "CreateProduct", {"input": product_input(catalog_seed, f"WF-ANON-{run_id.upper()}")}
    )
    assert anonymous.status_code == 401
    assert code(anonymous) == "AUTHENTICATION_REQUIRED"
    assert catalog_snapshot(catalog_db) == before


def test_only_admins_manage_roles(gateway: GraphQLClient, identity_db: Database[Any]) -> None:
    customer = register(gateway)
    victim = register(gateway)
    stored_before = identity_db["users"].find_one(
        {"_id": victim.user_id}, {"roles": 1, "version": 1}
    )
    refused = gateway.run(
        "GrantRole", {"userId": victim.user_id, "role": "ADMIN"}, token=customer.access_token
    )
    assert refused.status_code == 403
    assert error(refused)["message"] == "Mutation.grantRole requires identity:admin"
    stored_after = identity_db["users"].find_one(
        {"_id": victim.user_id}, {"roles": 1, "version": 1}
    )
    assert stored_after == stored_before
    users = gateway.post("{ users(first: 5) { totalCount } }", token=customer.access_token)
    assert code(users) == "MISSING_SCOPE"


def test_admin_lists_and_revokes_roles(gateway: GraphQLClient, admin: Account) -> None:
    user = register(gateway)
    data(
        gateway.run(
            "GrantRole", {"userId": user.user_id, "role": "ADMIN"}, token=admin.access_token
        )
    )
    listed = data(
        gateway.post(
            "query($first: Int) { users(first: $first, role: ADMIN) { edges { node { id } } } }",
            {"first": 100},
            token=admin.access_token,
        )
    )
    assert user.user_id in {e["node"]["id"] for e in listed["users"]["edges"]}
    revoked = data(
        gateway.run(
            "RevokeRole", {"userId": user.user_id, "role": "ADMIN"}, token=admin.access_token
        )
    )["revokeRole"]
    assert revoked["roles"] == ["CUSTOMER"]
    assert claims_of(refresh(gateway, user).access_token)["roles"] == ["customer"]
