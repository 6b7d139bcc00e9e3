"""The edge (`philosophy-infra:edge`): CloudFront in front of the assets bucket and the service, its WAF, and the
internal load balancer CloudFront reaches the service's mesh gateway through (a VPC origin).

With `domain` (and the Route 53 `hostedZoneId` that serves it) the distribution answers on that name, with ACM
certificates for CloudFront (us-east-1) and the load balancer (the stack's region). Without one it answers on its
own `*.cloudfront.net` name, and reaches the load balancer over HTTP inside the VPC (a VPC origin never leaves
AWS's network; no certificate can name an internal load balancer without a domain)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from philosophy_infra.config.base import ConfigIssue, Model

_DOMAIN = re.compile(r"^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")


class PriceClass(StrEnum):
    """Where CloudFront serves from (and bills): PriceClass_100 is North America and Europe."""

    PRICE_CLASS_100 = "PriceClass_100"
    PRICE_CLASS_200 = "PriceClass_200"
    PRICE_CLASS_ALL = "PriceClass_All"


class EdgeConfig(Model):
    domain: str | None = None
    """The service's public name, e.g. philosophy.example.org: the distribution's alias, `origin.<domain>` the load
    balancer's certificate name. None: the distribution's own name."""
    hosted_zone_id: str | None = None
    """The public Route 53 zone of `domain` (validation records, the alias records)."""
    price_class: PriceClass = PriceClass.PRICE_CLASS_100
    rate_limit: int = Field(default=2000, ge=10, le=2_000_000_000)
    """Requests per client IP in five minutes, above which the WAF blocks that IP."""
    origin_read_timeout_seconds: int = Field(default=60, ge=1, le=120)
    """How long CloudFront waits for the service's first byte (and between bytes): LLM answers stream. At most 120
    for a VPC origin (CloudFront's API), and above 60 only after a quota increase."""
    idle_timeout_seconds: int = Field(default=3600, ge=60, le=4000)
    """The load balancer's idle timeout: a websocket with no traffic for this long is closed."""

    def issues(self) -> Iterator[ConfigIssue]:
        if self.domain is not None and not _DOMAIN.fullmatch(self.domain):
            yield ConfigIssue("edge.domain", self.domain, "must be a lower-case DNS name, e.g. philosophy.example.org")
        if (self.domain is None) != (self.hosted_zone_id is None):
            yield ConfigIssue(
                "edge.hostedZoneId",
                self.hosted_zone_id,
                "edge.domain and edge.hostedZoneId go together: the zone validates the certificates and holds "
                "the records",
            )
        elif self.hosted_zone_id is not None and not _ZONE.fullmatch(self.hosted_zone_id):
            yield ConfigIssue("edge.hostedZoneId", self.hosted_zone_id, "must be a Route 53 zone id (Z...)")
