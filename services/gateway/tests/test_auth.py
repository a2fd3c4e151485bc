"""Token verification at the gateway, the auth directives, and defence in depth: the
catalog verifies the forwarded Authorization header itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
from collections.abc import Callable

import pytest
from emporium_kit.testing import TokenMinter
from emporium_platform.processes import ensure_gateway_installed, node_binary
from graphql import (
    ArgumentNode,
    DirectiveNode,
    ListValueNode,
    NameNode,
    ObjectTypeDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    parse,
    print_ast,
)

from .conftest import GatewayClient, error_codes

pytestmark = pytest.mark.workflow

CREATE_CATEGORY = "mutation($name: String!) { createCategory(input: {name: $name}) { id name } }"
CREATE_SELLER = "mutation($name: String!) { createSeller(input: {name: $name}) { id } }"
CATEGORY_BY_SLUG = "query($slug: String!) { category(slug: $slug) { id } }"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, object], token: str, signature: bytes = b"") -> str:
    """A token with ``header`` and the payload of ``token``, signed with ``signature``."""
    payload = token.split(".")[1]
    return f"{b64url(json.dumps(header).encode())}.{payload}.{b64url(signature)}"


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def category_exists(gateway: GatewayClient, name: str) -> bool:
    response = gateway.post(CATEGORY_BY_SLUG, {"slug": slug(name)})
    assert response.status_code == 200, response.text
    return response.json()["data"]["category"] is not None


# --- token verification -------------------------------------------------------------------


def flip_last_chars(segment: str) -> str:
    return segment[:-6] + ("A" * 6 if not segment.endswith("A" * 6) else "B" * 6)


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
        "not a JWT": "definitely-not-a-token",
    }


ATTACKS = list(attack_tokens(TokenMinter()))


@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_or_expired_tokens_are_refused_and_write_nothing(
    gateway: GatewayClient, minter: TokenMinter, attack: str, run_id: str
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
    gateway: GatewayClient,
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
    gateway: GatewayClient, minter: TokenMinter, run_id: str
) -> None:
    """No directive guards createCategory in the committed schema: the gateway lets a verified
    customer through and the catalog, verifying the forwarded token, refuses it."""
    name = f"Customer Made {run_id}"
    response = gateway.post(CREATE_CATEGORY, {"name": name}, token=minter.mint("c", ["customer"]))
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "MISSING_ROLE"
    assert body["errors"][0]["extensions"]["serviceName"] == "catalog"
    assert not category_exists(gateway, name)


def test_key_rotation_keeps_old_tokens_valid_and_accepts_new_keys(
    gateway: GatewayClient, minter: TokenMinter, jwks: object, run_id: str
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


# --- @authenticated / @requiresScopes ------------------------------------------------------


def _directive(name: str, scopes: list[list[str]] | None = None) -> DirectiveNode:
    arguments = ()
    if scopes is not None:
        value = ListValueNode(
            values=tuple(
                ListValueNode(values=tuple(StringValueNode(value=s) for s in group))
                for group in scopes
            )
        )
        arguments = (ArgumentNode(name=NameNode(value="scopes"), value=value),)
    return DirectiveNode(name=NameNode(value=name), arguments=arguments)


def guard_catalog_sdl(sdl: str) -> str:
    """The catalog SDL with auth directives on its mutations: every mutation needs a token,
    category changes need the admin role."""
    document = parse(sdl)
    for definition in document.definitions:
        if isinstance(definition, SchemaExtensionNode):
            for directive in definition.directives:
                url = next(a for a in directive.arguments if a.name.value == "url")
                if "specs.apollo.dev/federation/" not in url.value.value:  # type: ignore[attr-defined]
                    continue
                url.value = StringValueNode(value="https://specs.apollo.dev/federation/v2.5")
                imports = next(a for a in directive.arguments if a.name.value == "import")
                names = {v.value for v in imports.value.values}  # type: ignore[attr-defined]
                extra = [n for n in ("@authenticated", "@requiresScopes") if n not in names]
                imports.value = ListValueNode(
                    values=(*imports.value.values, *(StringValueNode(value=n) for n in extra))  # type: ignore[attr-defined]
                )
        if isinstance(definition, ObjectTypeDefinitionNode) and definition.name.value == "Mutation":
            for mutation in definition.fields:
                present = {d.name.value for d in mutation.directives}
                added = [] if "authenticated" in present else [_directive("authenticated")]
                if "Category" in mutation.name.value and "requiresScopes" not in present:
                    added.append(_directive("requiresScopes", [["role:admin"]]))
                mutation.directives = (*mutation.directives, *added)
    return print_ast(document)


@pytest.fixture(scope="module")
def guarded_gateway(
    start_gateway: Callable[..., GatewayClient], tmp_path_factory: pytest.TempPathFactory
) -> GatewayClient:
    """A gateway whose supergraph carries auth directives on the catalog's mutations."""
    gateway_dir = ensure_gateway_installed()
    work = tmp_path_factory.mktemp("guarded")
    config = json.loads((gateway_dir / "subgraphs.json").read_text())
    for subgraph in config["subgraphs"]:
        pattern = gateway_dir / subgraph["schema"]
        files = sorted(pattern.parent.glob(pattern.name))
        if subgraph["name"] == "catalog":
            guarded = work / "catalog.graphql"
            guarded.write_text(guard_catalog_sdl("\n".join(f.read_text() for f in files)))
            subgraph["schema"] = str(guarded)
        else:
            subgraph["schema"] = str(pattern.resolve())
    (work / "subgraphs.json").write_text(json.dumps(config))
    supergraph = work / "supergraph.graphql"
    result = subprocess.run(
        [
            str(node_binary()),
            "compose.mjs",
            "--config",
            str(work / "subgraphs.json"),
            "--out",
            str(supergraph),
        ],
        cwd=gateway_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "@requiresScopes(" in supergraph.read_text()
    return start_gateway("gateway-guarded", EMPORIUM_SUPERGRAPH_PATH=str(supergraph))


def test_authenticated_field_refuses_anonymous_callers_at_the_gateway(
    guarded_gateway: GatewayClient, run_id: str
) -> None:
    name = f"Anonymous Seller {run_id}"
    response = guarded_gateway.post(CREATE_SELLER, {"name": name})
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "AUTHENTICATION_REQUIRED"
    assert error["message"] == "Sign in to select Mutation.createSeller"
    assert response.json()["data"] is None


def test_authenticated_field_lets_a_token_through_to_the_subgraph_check(
    guarded_gateway: GatewayClient, minter: TokenMinter, run_id: str
) -> None:
    response = guarded_gateway.post(
        CREATE_SELLER, {"name": f"Customer Seller {run_id}"}, token=minter.mint("c", ["customer"])
    )
    assert response.status_code == 200
    assert error_codes(response) == ["MISSING_ROLE"]
    assert response.json()["errors"][0]["extensions"]["serviceName"] == "catalog"


def test_required_scope_is_enforced_before_the_subgraph_is_called(
    guarded_gateway: GatewayClient, gateway: GatewayClient, minter: TokenMinter, run_id: str
) -> None:
    name = f"Scoped {run_id}"
    refused = guarded_gateway.post(
        CREATE_CATEGORY, {"name": name}, token=minter.mint("s", ["seller"], seller_id="s-1")
    )
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "MISSING_SCOPE"
    assert error["message"] == "Mutation.createCategory requires role:admin"
    assert not category_exists(gateway, name)

    allowed = guarded_gateway.post(
        CREATE_CATEGORY, {"name": name}, token=minter.mint("a", ["admin"])
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["data"]["createCategory"]["name"] == name
    assert category_exists(gateway, name)


def test_public_fields_stay_open_on_the_guarded_schema(guarded_gateway: GatewayClient) -> None:
    response = guarded_gateway.post("{ rootCategories { id } }")
    assert response.status_code == 200
    assert "errors" not in response.json()
