"""The AWS regions a stack may name and the availability zones each one has.

Zone names (the letter after the region) are what a stack file lists. The table follows AWS's "Regions and
Availability Zones" (docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html),
as of 2026-11. Which letters an account sees can differ (us-west-1 shows two of its three to most accounts;
ap-northeast-1 has no `b` for newer accounts), so a letter here means "exists in the region", and EC2 is the
final word. A region AWS opens later is added here with its zones.
"""

from __future__ import annotations

import re

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

ZONE_LETTERS: dict[str, str] = {
    "af-south-1": "abc",
    "ap-east-1": "abc",
    "ap-east-2": "abc",
    "ap-northeast-1": "abcd",
    "ap-northeast-2": "abcd",
    "ap-northeast-3": "abc",
    "ap-south-1": "abc",
    "ap-south-2": "abc",
    "ap-southeast-1": "abc",
    "ap-southeast-2": "abc",
    "ap-southeast-3": "abc",
    "ap-southeast-4": "abc",
    "ap-southeast-5": "abc",
    "ap-southeast-6": "abc",
    "ap-southeast-7": "abc",
    "ca-central-1": "abd",
    "ca-west-1": "abc",
    "cn-north-1": "abd",
    "cn-northwest-1": "abc",
    "eu-central-1": "abc",
    "eu-central-2": "abc",
    "eu-north-1": "abc",
    "eu-south-1": "abc",
    "eu-south-2": "abc",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-west-3": "abc",
    "il-central-1": "abc",
    "me-central-1": "abc",
    "me-south-1": "abc",
    "mx-central-1": "abc",
    "sa-east-1": "abc",
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-gov-east-1": "abc",
    "us-gov-west-1": "abc",
    "us-west-1": "abc",
    "us-west-2": "abcd",
}


def zones(region: str) -> list[str]:
    """The availability zone names of `region`, or [] for a region not in the table."""
    return [f"{region}{letter}" for letter in ZONE_LETTERS.get(region, "")]


def region_problem(region: str) -> str | None:
    """Why `region` cannot be a stack's region, or None."""
    if not _REGION.fullmatch(region):
        return "must be an AWS region name such as eu-west-1"
    if region not in ZONE_LETTERS:
        return "not a region this program knows; add it with its zones to philosophy_infra/regions.py"
    return None
