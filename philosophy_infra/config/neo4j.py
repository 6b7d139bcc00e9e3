"""The graph store, Neo4j, in both layers' config.

- `philosophy-infra:neo4j` (AWS layer): the edition and how its backups are kept. The AWS layer decides what the
  backups are (an S3 bucket that `neo4j-admin` writes, or snapshots of the volumes) and who may write them, so
  the edition is its to decide; the Kubernetes layer reads it from the AWS layer's outputs.
- `philosophy-kubernetes:neo4jServers` (Kubernetes layer): where the servers run and how large they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from fractions import Fraction

from pydantic import Field

from philosophy_infra import quantity
from philosophy_infra.config.base import ConfigIssue, Model


class Neo4jEdition(StrEnum):
    COMMUNITY = "community"
    """One server. Backups are hourly snapshots of its volume (online backup is Enterprise-only)."""
    ENTERPRISE = "enterprise"
    """A three-server cluster with online, hourly `neo4j-admin database backup` to S3. Needs a licence."""


CLUSTER_SIZE = {Neo4jEdition.COMMUNITY: 1, Neo4jEdition.ENTERPRISE: 3}
"""Servers per edition: Community cannot cluster; three is the smallest cluster that survives losing one."""
LICENSE_URL = "https://neo4j.com/licensing/"


class Neo4jConfig(Model):
    """`philosophy-infra:neo4j`."""

    edition: Neo4jEdition = Neo4jEdition.COMMUNITY
    accept_license_agreement: bool = False
    """Enterprise only: true says this organisation holds a Neo4j licence agreement (the chart's
    `acceptLicenseAgreement: "yes"`). Nothing is planned for Enterprise without it."""
    backup_retention_days: int = Field(default=14, ge=2, le=365)
    """How long backups are kept: the backup bucket's lifecycle (Enterprise), the snapshots' age (Community)."""

    @property
    def servers(self) -> int:
        return CLUSTER_SIZE[self.edition]

    def issues(self) -> Iterator[ConfigIssue]:
        if self.edition is Neo4jEdition.ENTERPRISE and not self.accept_license_agreement:
            yield ConfigIssue(
                "neo4j.acceptLicenseAgreement",
                self.accept_license_agreement,
                "must be true for edition `enterprise`: Neo4j Enterprise Edition runs only under a licence "
                f"agreement with Neo4j ({LICENSE_URL}); set it once yours is signed, or use `community`",
            )


# What the JVM and the OS need beside the heap and the page cache: thread stacks, Netty's and Lucene's native
# memory, the transaction state off the heap, and the page cache's own bookkeeping. Neo4j's sizing guide keeps
# about 1 GB for them; less and the kernel's OOM killer ends the server under load.
OFF_HEAP_RESERVE = "1Gi"


class Neo4jServersConfig(Model):
    """`philosophy-kubernetes:neo4jServers`: each server's size (the chart sets requests equal to limits)."""

    node_group: str = "general"
    """The AWS layer's node group the servers run on."""
    volume_gib: int = Field(default=20, ge=1, le=16384)
    """Each server's data volume (store, transaction logs, its own logs): encrypted gp3."""
    cpu: str = "1"
    memory: str = "2Gi"
    heap: str = "512Mi"
    """The JVM heap, initial and maximum (`server.memory.heap.*`)."""
    page_cache: str = "512Mi"
    """The store files' cache (`server.memory.pagecache.size`)."""

    def issues(self) -> Iterator[ConfigIssue]:
        parsed: dict[str, Fraction] = {}
        for key in ("cpu", "memory", "heap", "page_cache"):
            text = getattr(self, key)
            try:
                parsed[key] = quantity.parse(text)
            except ValueError as exc:
                yield ConfigIssue(f"neo4jServers.{_camel(key)}", text, str(exc))
        for key in ("heap", "page_cache"):
            if key in parsed and parsed[key] % 2**20:
                yield ConfigIssue(
                    f"neo4jServers.{_camel(key)}",
                    getattr(self, key),
                    "must be a whole number of MiB, e.g. 512Mi or 2Gi",
                )
        if {"memory", "heap", "page_cache"} <= parsed.keys():
            free = parsed["memory"] - parsed["heap"] - parsed["page_cache"]
            if free < quantity.parse(OFF_HEAP_RESERVE):
                yield ConfigIssue(
                    "neo4jServers.memory",
                    self.memory,
                    f"must exceed heap ({self.heap}) plus pageCache ({self.page_cache}) by at least "
                    f"{OFF_HEAP_RESERVE}, for the JVM's native memory and the OS",
                )

    def neo4j_size(self, key: str) -> str:
        """`heap` or `page_cache` as neo4j.conf writes sizes (`512m`)."""
        return f"{quantity.parse(getattr(self, key)) // 2**20}m"


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)
