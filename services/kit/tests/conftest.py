"""Shared fixtures of the kit's tests: a small federated schema and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from ariadne import ObjectType, QueryType
from ariadne.contrib.federation import FederatedObjectType
from asgi_lifespan import LifespanManager
from emporium_kit.auth import require_roles
from emporium_kit.context import RequestContext
from emporium_kit.errors import NotFound
from emporium_kit.graphql import make_federated_schema
from emporium_kit.settings import ServiceSettings
from emporium_platform.pytest_plugin import platform  # noqa: F401  (real infra fixture)
from fastapi import FastAPI
from graphql import GraphQLSchema

SDL = """
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])

type Query {
  product(id: ID!): Product
  category(id: ID!): Category
  whoami: String!
  sellerOnly: String!
  boom: Int
  fromContext: String!
  echo(input: EchoInput!): String!
}

enum Color {
  RED
  GREEN
}

input EchoInput {
  name: String!
  tags: [String!]
  color: Color
}

type Product @key(fields: "id") {
  id: ID!
  name: String!
}

type Category {
  id: ID!
  parent: Category
}
"""


class KitTestSettings(ServiceSettings):
    service_name: str = "kittest"


@dataclass(frozen=True, slots=True)
class TenantContext(RequestContext):
    """A service's per-request context: here, the tenant a header names."""

    tenant: str


def build_schema() -> GraphQLSchema:
    query = QueryType()

    @query.field("product")
    async def resolve_product(_obj: Any, _info: Any, id: str) -> dict[str, str]:
        if id == "missing":
            raise NotFound("PRODUCT_NOT_FOUND", f"No product {id}", ["id"])
        return {"id": id, "name": f"product {id}"}

    @query.field("category")
    def resolve_category(_obj: Any, _info: Any, id: str) -> dict[str, str]:
        return {"id": id}

    @query.field("whoami")
    def resolve_whoami(_obj: Any, info: Any) -> str:
        return require_roles(info).subject

    @query.field("sellerOnly")
    def resolve_seller_only(_obj: Any, info: Any) -> str:
        return str(require_roles(info, "seller").seller_id)

    @query.field("boom")
    def resolve_boom(_obj: Any, _info: Any) -> int:
        raise RuntimeError("connection string mongodb://admin:hunter2@db leaked")

    @query.field("echo")
    def resolve_echo(_obj: Any, _info: Any, input: dict[str, Any]) -> str:
        return str(input["name"])

    @query.field("fromContext")
    def resolve_from_context(_obj: Any, info: Any) -> str:
        return TenantContext.of(info).tenant

    category = ObjectType("Category")
    category.set_field("parent", lambda obj, _info: {"id": f"{obj['id']}-parent"})

    product = FederatedObjectType("Product")

    @product.reference_resolver
    def resolve_product_reference(_obj: Any, _info: Any, representation: dict[str, Any]) -> Any:
        return {"id": representation["id"], "name": f"entity {representation['id']}"}

    return make_federated_schema(SDL, query, category, product)


@pytest.fixture(scope="session")
def schema() -> GraphQLSchema:
    return build_schema()


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an HTTP client talking to it in-process."""
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://service"
        ) as client,
    ):
        yield client


@pytest.fixture
def run_app() -> Callable[[FastAPI], Any]:
    return running
