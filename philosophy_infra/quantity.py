"""Kubernetes resource quantities (`250m`, `1`, `512Mi`, `1Gi`), parsed exactly, to compare requests with limits."""

from __future__ import annotations

import re
from fractions import Fraction

_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_FACTORS = {
    None: Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


def parse(text: str) -> Fraction:
    """The quantity's exact value (cores for CPU, bytes for memory); ValueError if Kubernetes would refuse it."""
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise ValueError("must be a Kubernetes quantity such as 250m, 1, 512Mi or 1Gi")
    value = Fraction(match.group(1)) * _FACTORS[match.group(2)]
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value
