"""Policy statements more than one component's policies share."""

from __future__ import annotations

from typing import Any


def tls_only_statements(bucket: str) -> list[dict[str, Any]]:
    """A bucket policy's denies of plain HTTP and of TLS below 1.2, for the bucket and its objects."""
    resources = [bucket, f"{bucket}/*"]
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyTlsBelow12",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]
