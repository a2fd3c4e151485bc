"""Profile and address book through GraphQL: rules, validation with field paths, and
nothing written when an input is rejected."""

from __future__ import annotations

from typing import Any

import pytest
from emporium_identity.core import Identity

from .conftest import Gql, make_admin, register

pytestmark = pytest.mark.integration

ADDRESS_FIELDS = """
  version
  addresses { id label fullName line1 city postalCode country phone isDefaultShipping
              isDefaultBilling }
  defaultShippingAddress { id }
  defaultBillingAddress { id }
"""
ADD = f"mutation($i: AddressInput!) {{ addAddress(input: $i) {{ {ADDRESS_FIELDS} }} }}"
UPDATE = (
    f"mutation($id: ID!, $i: AddressPatch!) {{ updateAddress(id: $id, input: $i) "
    f"{{ {ADDRESS_FIELDS} }} }}"
)
DELETE = f"mutation($id: ID!) {{ deleteAddress(id: $id) {{ {ADDRESS_FIELDS} }} }}"
SET_DEFAULT = (
    f"mutation($id: ID!, $k: AddressKind!) {{ setDefaultAddress(id: $id, kind: $k) "
    f"{{ {ADDRESS_FIELDS} }} }}"
)


def _address(**overrides: Any) -> dict[str, Any]:
    return {
        "fullName": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postalCode": "sw1y 4jh",
        "country": "gb",
        "phone": "+44 20 7946 0958",
        **overrides,
    }


async def _stored(identity: Identity, user_id: str) -> dict[str, Any]:
    doc = await identity.db.users.find_one({"_id": user_id})
    assert doc is not None
    return doc


async def test_profile_update_and_validation(gql: Gql, identity: Identity) -> None:
    session = await register(gql)
    token, user_id = session["accessToken"], session["user"]["id"]
    update = (
        "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) "
        "{ displayName phone locale version } }"
    )
    profile = await gql.ok(
        update,
        {"i": {"displayName": " Ada ", "phone": "+1 415 555 2671", "locale": "en-GB"}},
        token=token,
    )
    assert profile["updateProfile"] == {
        "displayName": "Ada",
        "phone": "+14155552671",
        "locale": "en-GB",
        "version": 2,
    }
    # only the given fields change; null clears one
    cleared = await gql.ok(update, {"i": {"phone": None}}, token=token)
    assert cleared["updateProfile"]["displayName"] == "Ada"
    assert cleared["updateProfile"]["phone"] is None

    version = (await _stored(identity, user_id))["version"]
    error = await gql.error(update, {"i": {"phone": "12345", "locale": "english"}}, token=token)
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    problems = {tuple(p["field"]): p["code"] for p in error["extensions"]["errors"]}
    assert problems == {("input", "phone"): "INVALID_PHONE", ("input", "locale"): "INVALID_LOCALE"}
    assert (await _stored(identity, user_id))["version"] == version

    anonymous = await gql.error(update, {"i": {"displayName": "x"}})
    assert anonymous["extensions"]["code"] == "AUTHENTICATION_REQUIRED"


async def test_address_book_keeps_one_default_of_each_kind(gql: Gql) -> None:
    token = (await register(gql))["accessToken"]
    first = (await gql.ok(ADD, {"i": _address(label="Home")}, token=token))["addAddress"]
    home = first["addresses"][0]
    assert home["country"] == "GB"
    assert home["postalCode"] == "SW1Y 4JH"
    assert home["phone"] == "+442079460958"
    # the first address is both defaults
    assert home["isDefaultShipping"]
    assert home["isDefaultBilling"]
    assert (
        first["defaultShippingAddress"]["id"] == first["defaultBillingAddress"]["id"] == home["id"]
    )

    second = (
        await gql.ok(
            ADD,
            {
                "i": _address(
                    label="Office",
                    city="Berlin",
                    country="DE",
                    postalCode="10117",
                    defaultBilling=True,
                )
            },
            token=token,
        )
    )["addAddress"]
    office = next(a for a in second["addresses"] if a["label"] == "Office")
    assert second["defaultShippingAddress"]["id"] == home["id"]
    assert second["defaultBillingAddress"]["id"] == office["id"]
    flags = [(a["isDefaultShipping"], a["isDefaultBilling"]) for a in second["addresses"]]
    assert sum(s for s, _ in flags) == 1
    assert sum(b for _, b in flags) == 1

    moved = (await gql.ok(SET_DEFAULT, {"id": office["id"], "k": "SHIPPING"}, token=token))[
        "setDefaultAddress"
    ]
    assert moved["defaultShippingAddress"]["id"] == office["id"]

    edited = (
        await gql.ok(
            UPDATE, {"id": office["id"], "i": {"line1": "Unter den Linden 1"}}, token=token
        )
    )["updateAddress"]
    assert next(a for a in edited["addresses"] if a["id"] == office["id"])["city"] == "Berlin"

    # deleting the default moves both defaults to the remaining address
    left = (await gql.ok(DELETE, {"id": office["id"]}, token=token))["deleteAddress"]
    assert [a["id"] for a in left["addresses"]] == [home["id"]]
    assert left["defaultShippingAddress"]["id"] == left["defaultBillingAddress"]["id"] == home["id"]
    emptied = (await gql.ok(DELETE, {"id": home["id"]}, token=token))["deleteAddress"]
    assert emptied["addresses"] == []
    assert emptied["defaultShippingAddress"] is None

    missing = await gql.error(DELETE, {"id": home["id"]}, token=token)
    assert missing["extensions"]["code"] == "ADDRESS_NOT_FOUND"
    assert missing["extensions"]["field"] == ["id"]


async def test_invalid_address_reports_every_field_and_writes_nothing(
    gql: Gql, identity: Identity
) -> None:
    session = await register(gql)
    token, user_id = session["accessToken"], session["user"]["id"]
    await gql.ok(ADD, {"i": _address()}, token=token)
    before = await _stored(identity, user_id)

    error = await gql.error(
        ADD,
        {"i": _address(country="XX", postalCode="1", phone="0044 20", fullName="")},
        token=token,
    )
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert error["extensions"]["kind"] == "VALIDATION_FAILED"
    problems = {tuple(p["field"]): p["code"] for p in error["extensions"]["errors"]}
    assert problems == {
        ("input", "country"): "INVALID_COUNTRY",
        ("input", "postalCode"): "INVALID_POSTAL_CODE",
        ("input", "phone"): "INVALID_PHONE",
        ("input", "fullName"): "STRING_TOO_SHORT",
    }
    address_id = before["addresses"][0]["id"]
    cleared = await gql.error(UPDATE, {"id": address_id, "i": {"city": None}}, token=token)
    assert cleared["extensions"]["code"] == "REQUIRED"
    assert cleared["extensions"]["field"] == ["input", "city"]
    bad_patch = await gql.error(UPDATE, {"id": address_id, "i": {"country": "ZZ"}}, token=token)
    assert bad_patch["extensions"]["field"] == ["input", "country"]

    after = await _stored(identity, user_id)
    assert after["version"] == before["version"]
    assert after["addresses"] == before["addresses"]


async def test_an_account_is_visible_to_itself_and_admins_only(
    gql: Gql, identity: Identity
) -> None:
    alice, bob = await register(gql), await register(gql)
    admin = await make_admin(identity)
    entities = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }"
    reps = {"r": [{"__typename": "User", "id": alice["user"]["id"]}]}

    own = await gql.ok(entities, reps, token=alice["accessToken"])
    assert own["_entities"][0]["email"] == alice["user"]["email"]
    seen_by_admin = await gql.ok(entities, reps, token=admin["accessToken"])
    assert seen_by_admin["_entities"][0]["id"] == alice["user"]["id"]

    stranger = await gql.error(entities, reps, token=bob["accessToken"])
    assert stranger["extensions"]["code"] == "NOT_YOUR_ACCOUNT"
    lookup = "query($id: ID!) { user(id: $id) { email } }"
    forbidden = await gql.error(lookup, {"id": alice["user"]["id"]}, token=bob["accessToken"])
    assert forbidden["extensions"]["code"] == "MISSING_ROLE"
    found = await gql.ok(lookup, {"id": alice["user"]["id"]}, token=admin["accessToken"])
    assert found["user"]["email"] == alice["user"]["email"]
