"""The `assets` section: the assets bucket's encryption and lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from philosophy_infra.config.base import ConfigIssue, Model


class AssetsEncryption(StrEnum):
    KMS = "kms"  # SSE-KMS with a customer managed key and an S3 bucket key
    S3_MANAGED = "s3Managed"  # SSE-S3 (AES256), keys owned by S3


class AssetsConfig(Model):
    encryption: AssetsEncryption = AssetsEncryption.KMS
    infrequent_access_after_days: int = Field(default=30, ge=30)
    glacier_instant_retrieval_after_days: int = Field(default=90, ge=1)
    noncurrent_version_expiration_days: int = Field(default=90, ge=1)
    abort_incomplete_multipart_upload_days: int = Field(default=7, ge=1)

    def issues(self) -> Iterator[ConfigIssue]:
        # S3 keeps an object in STANDARD_IA for at least 30 days before a lifecycle rule may move it on.
        if self.glacier_instant_retrieval_after_days < self.infrequent_access_after_days + 30:
            yield ConfigIssue(
                "assets.glacierInstantRetrievalAfterDays",
                self.glacier_instant_retrieval_after_days,
                "must be at least 30 days after infrequentAccessAfterDays "
                f"({self.infrequent_access_after_days}): S3 keeps objects in STANDARD_IA for 30 days",
            )


# Kubernetes minor versions EKS offers in standard support (see the README's upgrade notes). 1.34 leaves
