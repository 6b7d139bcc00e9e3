"""The human report's pure parts: values shortened at boundaries, lines wrapped between settings, settings in
an order that never depends on the order the engine sent the inputs in."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.plan import RecordedResource
from philosophy_infra.report import settings, shorten, wrap

SEPARATORS = " ,/:="
words = st.text(alphabet="abcdefghij0123456789-_.", min_size=1, max_size=30)
texts = st.lists(st.tuples(words, st.sampled_from(SEPARATORS)), max_size=15).map(
    lambda pairs: "".join(w + sep for w, sep in pairs).rstrip(SEPARATORS) or "x"
)


@given(texts, st.integers(min_value=8, max_value=120))
def test_a_shortened_value_ends_at_a_boundary_never_mid_word(text: str, limit: int) -> None:
    short = shorten(text, limit)
    if short == text:
        return
    assert short.endswith("…")
    kept = short[:-1]
    assert text.startswith(kept)
    # The cut falls on a separator: the last kept character is one, or (spaces are trimmed) the next one is.
    assert kept[-1] in SEPARATORS or text[len(kept)] in SEPARATORS


@given(st.lists(st.text(alphabet="abc=", min_size=1, max_size=50), max_size=20), st.integers(20, 120))
def test_wrapping_breaks_only_between_parts_and_keeps_their_order(parts: list[str], width: int) -> None:
    lines = wrap(parts, "  ", width)
    assert " ".join(line.strip() for line in lines).split(" ") == " ".join(parts).split(" ")
    for line in lines:
        # A line is over the width only when it holds one part that alone is.
        assert len(line) <= width or len(line.strip().split(" ")) == 1 or line.strip() in parts


def resource(type_: str, inputs: dict[str, object]) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:s::p::{type_}::r",
        type=type_,
        name="r",
        custom=True,
        parent=None,
        dependencies=[],
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        provider=None,
        inputs=inputs,
    )


@given(st.randoms(use_true_random=False))
def test_settings_do_not_depend_on_the_order_of_the_inputs(rnd: random.Random) -> None:
    inputs: dict[str, object] = {
        "identifier": "db",
        "engine": "postgres",
        "engineVersion": "17",
        "instanceClass": "db.r6g.large",
        "multiAz": True,
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "tags": {"Owner": "x"},
        "password": "[secret]",
    }
    for type_ in ("aws:rds/instance:Instance", "aws:some/unlisted:Type"):
        items = list(inputs.items())
        rnd.shuffle(items)
        assert settings(resource(type_, dict(items))) == settings(resource(type_, inputs))
    # A listed type shows what a reviewer looks for first.
    assert settings(resource("aws:rds/instance:Instance", inputs))[:3] == [
        "identifier=db",
        "engine=postgres",
        "engineVersion=17",
    ]
