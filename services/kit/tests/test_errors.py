"""Domain errors and pydantic validation errors carry a code and a field path."""

from __future__ import annotations

import pytest
from emporium_kit.errors import (
    Conflict,
    DomainError,
    NotFound,
    ValidationFailed,
    parse_input,
    validation_details,
    validation_failed,
)
from pydantic import BaseModel, Field, ValidationError

pytestmark = pytest.mark.unit


class Listing(BaseModel):
    seller_id: str = Field(min_length=1)
    price: int = Field(gt=0)


class ProductInput(BaseModel):
    name: str = Field(max_length=10)
    listings: list[Listing] = Field(max_length=3)


def invalid() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        ProductInput.model_validate(
            {"name": "x" * 11, "listings": [{"seller_id": "s", "price": 1}, {"seller_id": ""}]}
        )
    return caught.value


def test_validation_details_have_codes_and_paths() -> None:
    details = validation_details(invalid(), prefix=["input"])
    as_dicts = [(d.code, d.field) for d in details]
    assert as_dicts == [
        ("STRING_TOO_LONG", ["input", "name"]),
        ("STRING_TOO_SHORT", ["input", "listings", 1, "seller_id"]),
        ("MISSING", ["input", "listings", 1, "price"]),
    ]


def test_validation_failed_summarises_the_first_problem() -> None:
    error = validation_failed(invalid(), prefix=["input"])
    assert isinstance(error, ValidationFailed)
    assert error.code == "STRING_TOO_LONG"
    assert error.field == ["input", "name"]
    ext = error.extensions()
    assert ext["kind"] == "VALIDATION_FAILED"
    assert len(ext["errors"]) == 3
    assert ext["errors"][2] == {
        "code": "MISSING",
        "message": "Field required",
        "field": ["input", "listings", 1, "price"],
    }


def test_domain_error_extensions() -> None:
    error = NotFound("PRODUCT_NOT_FOUND", "No such product", ["id"])
    assert str(error) == "No such product"
    assert error.extensions() == {"code": "PRODUCT_NOT_FOUND", "kind": "NOT_FOUND", "field": ["id"]}
    assert Conflict("SKU_TAKEN", "taken").extensions()["field"] is None
    assert isinstance(error, DomainError)


def test_parse_input_reports_camel_case_input_paths_and_chooses_the_code() -> None:
    one_problem = {"name": "ok", "listings": [{"seller_id": "", "price": 5}]}
    with pytest.raises(ValidationFailed) as caught:
        parse_input(ProductInput, one_problem, at=["input"])
    assert caught.value.code == "STRING_TOO_SHORT"  # the lone problem's own code
    assert caught.value.field == ["input", "listings", 0, "sellerId"]
    assert "at input.listings.0.sellerId" in caught.value.message

    two_problems = {"name": "far too long a name", "listings": [{"seller_id": "s", "price": 0}]}
    with pytest.raises(ValidationFailed) as caught:
        parse_input(ProductInput, two_problems, at=["input"])
    assert caught.value.code == "VALIDATION_FAILED"
    assert len(caught.value.details) == 2

    with pytest.raises(ValidationFailed) as caught:
        parse_input(ProductInput, one_problem, at=["input"], code="VALIDATION_FAILED")
    assert caught.value.code == "VALIDATION_FAILED"

    assert parse_input(ProductInput, {"name": "n", "listings": []}).name == "n"
    with pytest.raises(ValidationFailed) as caught:
        parse_input(ProductInput, None)  # None validates as {}
    assert caught.value.field == ["name"]
