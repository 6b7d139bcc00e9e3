"""Kubernetes quantities: exact values, so requests and limits compare the way the API server compares them."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.quantity import parse


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Fraction(1, 4)),
        ("1", 1),
        ("1000m", 1),
        ("0.5", Fraction(1, 2)),
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1G", 10**9),
    ],
)
def test_known_quantities(text: str, value: Fraction) -> None:
    assert parse(text) == value


@pytest.mark.parametrize("text", ["", "1 Gi", "2 GB", "-1", "1gi", "m", "0", "0m"])
def test_bad_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


@given(st.integers(1, 10**6))
def test_millicores_and_binary_units_agree_with_their_definitions(n: int) -> None:
    assert parse(f"{n}m") * 1000 == n
    assert parse(f"{n}Mi") == parse(f"{n * 1024}Ki") == n * 2**20
    assert (parse(f"{n}m") < parse(f"{n + 1}m")) and parse(f"{n}Gi") > parse(f"{n}G")
