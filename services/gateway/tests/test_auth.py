"""Token verification at the gateway, the auth directives, and defence in depth: the
catalog verifies the forwarded Authorization header itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from emporium_identity.domain import scopes_for
from emporium_kit.testing import TokenMinter
from emporium_platform.harness import GraphQLClient
from joserfc import jwt

from .conftest import CatalogData

pytestmark = pytest.mark.workflow

CREATE_CATEGORY = "mutation($name: String!) { createCategory(input: {name: $name}) { id name } }"
CREATE_SELLER = "mutation($name: String!) { createSeller(input: {name: $name}) { id } }"
CATEGORY_BY_SLUG = "query($slug: String!) { category(slug: $slug) { id } }"
CREATE_PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
PRODUCTS_IN_CATEGORY = """query($filter: ProductFilter) {
  products(filter: $filter, first: 100) { edges { node { sku } } }
}"""


def product_input(category_id: str, sku: str) -> dict[str, Any]:
    return {
        "name": f"Product {sku}",
        "brand": "Acme",
        "categoryId": category_id,
        "sku": sku,
        "price": {"amount": 1999, "currency": "USD"},
    }


def product_exists(gateway: GraphQLClient, catalog_data: CatalogData, sku: str) -> bool:
    response = gateway.post(
        PRODUCTS_IN_CATEGORY, {"filter": {"categoryId": catalog_data.category_id}}
    )
    assert response.status_code == 200, response.text
    return sku in {e["node"]["sku"] for e in response.json()["data"]["products"]["edges"]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, object], token: str, signature: bytes = b"") -> str:
    """A token with ``header`` and the payload of ``token``, signed with ``signature``."""
    payload = token.split(".")[1]
    return f"{b64url(json.dumps(header).encode())}.{payload}.{b64url(signature)}"


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def category_exists(gateway: GraphQLClient, name: str) -> bool:
    response = gateway.post(CATEGORY_BY_SLUG, {"slug": slug(name)})
    assert response.status_code == 200, response.text
    return response.json()["data"]["category"] is not None


# --- token verification -------------------------------------------------------------------


def flip_last_chars(segment: str) -> str:
    return segment[:-6] + ("A" * 6 if not segment.endswith("A" * 6) else "B" * 6)


def without_claim(minter: TokenMinter, claim: str) -> str:
    """A correctly signed admin token that lacks ``claim``."""
    claims = json.loads(
        base64.urlsafe_b64decode(minter.mint("mallory", ["admin"]).split(".")[1] + "==")
    )
    del claims[claim]
    header = {"alg": minter.alg, "kid": minter.kid, "typ": "JWT"}
    return jwt.encode(header, claims, minter.key, algorithms=[minter.alg])


def attack_tokens(minter: TokenMinter) -> dict[str, str]:
    """Tokens a client could forge or replay; none may pass the gateway."""
    admin = minter.mint("mallory", ["admin"])
    header, payload, signature = admin.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    root_payload = b64url(json.dumps({**claims, "sub": "root"}).encode())
    # "algorithm confusion": an HMAC over the token, keyed with the published public key
    hs256 = forge({"alg": "HS256", "typ": "JWT", "kid": minter.kid}, admin)
    hs256_input = hs256.rsplit(".", 1)[0]
    hs256_mac = hmac.new(minter.public_key_pem().encode(), hs256_input.encode(), hashlib.sha256)
    return {
        "expired": minter.mint("mallory", ["admin"], claims={"exp": 1_000_000_000}),
        "tampered payload": f"{header}.{root_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{flip_last_chars(signature)}",
        "unknown kid": TokenMinter().mint("mallory", ["admin"]),
        "published kid, foreign key": minter.mint(
            "mallory", ["admin"], key=TokenMinter().key, header={"kid": minter.kid}
        ),
        "alg none": forge({"alg": "none", "typ": "JWT", "kid": minter.kid}, admin),
        "HS256 keyed with the public key": f"{hs256_input}.{b64url(hs256_mac.digest())}",
        "wrong audience": minter.mint("mallory", ["admin"], claims={"aud": "someone-else"}),
        "wrong issuer": minter.mint("mallory", ["admin"], claims={"iss": "https://evil.example"}),
        # the services' verifier requires these; a token without exp would never expire
        **{f"no {claim}": without_claim(minter, claim) for claim in ("exp", "sub", "iss", "aud")},
        "empty sub": minter.mint("", ["admin"]),
        "not a JWT": "definitely-not-a-token",
    }


ATTACKS = list(attack_tokens(TokenMinter()))


@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_or_expired_tokens_are_refused_and_write_nothing(
    gateway: GraphQLClient, minter: TokenMinter, attack: str, run_id: str
) -> None:
    token = attack_tokens(minter)[attack]
    name = f"Forged {run_id} {ATTACKS.index(attack)}"
    response = gateway.post(CREATE_CATEGORY, {"name": name}, token=token)
    assert response.status_code in (400, 401), response.text
    assert response.json().get("data") is None
    assert response.json()["errors"][0]["message"] in (
        "Unauthenticated",
        "Invalid authentication token provided",
    )
    assert not category_exists(gateway, name)


@pytest.mark.parametrize("which", ["es256", "rs256"])
def test_valid_tokens_pass_and_the_subgraph_sees_the_same_caller(
    gateway: GraphQLClient,
    minter: TokenMinter,
    rsa_minter: TokenMinter,
    which: str,
    run_id: str,
) -> None:
    signer = minter if which == "es256" else rsa_minter
    name = f"Admin Made {run_id} {which}"
    response = gateway.post(CREATE_CATEGORY, {"name": name}, token=signer.mint("a", ["admin"]))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createCategory"]["name"] == name
    assert category_exists(gateway, name)


def test_subgraph_enforces_roles_behind_the_gateway(
    gateway: GraphQLClient, minter: TokenMinter, catalog_data: CatalogData, run_id: str
) -> None:
    """A token whose scope passes the gateway's @requiresScopes but whose roles do not allow
    the change: the catalog, verifying the forwarded token itself, refuses it."""
    sku = f"INCONSISTENT-{run_id}"
    token = minter.mint("c", ["customer"], scopes=["catalog:write"])
    response = gateway.post(
        CREATE_PRODUCT, {"input": product_input(catalog_data.category_id, sku)}, token=token
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "MISSING_ROLE"
    assert body["errors"][0]["extensions"]["serviceName"] == "catalog"
    assert not product_exists(gateway, catalog_data, sku)


def test_key_rotation_keeps_old_tokens_valid_and_accepts_new_keys(
    gateway: GraphQLClient, minter: TokenMinter, jwks: object, run_id: str
) -> None:
    before = minter.mint("rotating-admin", ["admin"])
    old_kid = minter.kid
    minter.rotate()
    after = minter.mint("rotating-admin", ["admin"])
    assert minter.kid != old_kid
    for index, token in enumerate((before, after)):
        name = f"Rotation {run_id} {index}"
        response = gateway.post(CREATE_CATEGORY, {"name": name}, token=token)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["createCategory"]["name"] == name


# --- @authenticated / @requiresScopes (the committed supergraph) ----------------------------


def test_guarded_field_refuses_anonymous_callers_at_the_gateway(
    gateway: GraphQLClient, run_id: str
) -> None:
    name = f"Anonymous Seller {run_id}"
    response = gateway.post(CREATE_SELLER, {"name": name})
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "AUTHENTICATION_REQUIRED"
    assert error["message"] == "Sign in to select Mutation.createSeller"
    assert response.json()["data"] is None


def test_required_scope_is_enforced_before_the_subgraph_is_called(
    gateway: GraphQLClient, minter: TokenMinter, run_id: str
) -> None:
    name = f"Scoped {run_id}"
    seller = minter.mint(
        "s", ["customer", "seller"], seller_id="s-1", scopes=scopes_for(["seller"])
    )
    refused = gateway.post(CREATE_CATEGORY, {"name": name}, token=seller)
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "MISSING_SCOPE"
    assert error["message"] == "Mutation.createCategory requires role:admin"
    assert not category_exists(gateway, name)

    allowed = gateway.post(CREATE_CATEGORY, {"name": name}, token=minter.mint("a", ["admin"]))
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["data"]["createCategory"]["name"] == name
    assert category_exists(gateway, name)


def test_customer_cannot_write_the_catalog(
    gateway: GraphQLClient, minter: TokenMinter, catalog_data: CatalogData, run_id: str
) -> None:
    sku = f"CUSTOMER-{run_id}"
    customer = minter.mint("c", ["customer"], scopes=scopes_for(["customer"]))
    response = gateway.post(
        CREATE_PRODUCT, {"input": product_input(catalog_data.category_id, sku)}, token=customer
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == (
        "Mutation.createProduct requires catalog:write"
    )
    assert not product_exists(gateway, catalog_data, sku)


def test_public_fields_stay_open(gateway: GraphQLClient) -> None:
    response = gateway.post("{ rootCategories { id } }")
    assert response.status_code == 200
    assert "errors" not in response.json()
