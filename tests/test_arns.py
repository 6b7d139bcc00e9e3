"""A role ARN as a signed request's session shows it: without the role's path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.arns import role_arn_without_path

_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789+=,.@_-", min_size=1, max_size=20)


@given(path=st.lists(_SEGMENT, max_size=4), name=_SEGMENT, partition=st.sampled_from(["aws", "aws-cn", "aws-us-gov"]))
def test_the_path_goes_the_name_account_and_partition_stay(path: list[str], name: str, partition: str) -> None:
    arn = f"arn:{partition}:iam::123456789012:role/{''.join(f'{p}/' for p in path)}{name}"
    assert role_arn_without_path(arn) == f"arn:{partition}:iam::123456789012:role/{name}"


def test_examples() -> None:
    assert (
        role_arn_without_path("arn:aws:iam::123456789012:role/philosophy-infra/prod/jaeger-role-1a2b")
        == "arn:aws:iam::123456789012:role/jaeger-role-1a2b"
    )
    assert role_arn_without_path("arn:aws:iam::123456789012:role/plain") == "arn:aws:iam::123456789012:role/plain"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sts::123456789012:assumed-role/jaeger/session",
        "arn:aws:iam::123456789012:user/someone",
        "arn:aws:iam::1234:role/short-account",
        "not an arn",
    ],
)
def test_anything_but_a_role_arn_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        role_arn_without_path(arn)
