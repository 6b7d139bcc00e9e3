"""How AWS services that authorize by role name see an IAM role.

A pod's request is signed with an STS session of its role, `arn:aws:sts::<account>:assumed-role/<name>/<session>`,
which carries the role's name but not its path. Services that turn the session back into a role ARN (OpenSearch
fine-grained access control's backend roles, EKS's aws-auth before access entries) produce
`arn:aws:iam::<account>:role/<name>`: a role under a path, as every role of this project is, matches only in that
form.
"""

from __future__ import annotations

import re

_ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$")


def role_arn_without_path(role_arn: str) -> str:
    match = _ROLE_ARN.fullmatch(role_arn)
    if not match:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['name']}"
