"""The program's layers: separate Pulumi projects in one repository, split by where they can run.

- `aws` (the top-level project): talks only to AWS APIs, runs anywhere with AWS credentials.
- `kubernetes` (`kubernetes/`): talks to the private cluster API, runs only inside the VPC (the deploy
  runner), and reads the AWS layer's outputs through a StackReference.
Both deploy a stack of the same name; the AWS layer first.

- `bootstrap` (`bootstrap/`): once per AWS account, not per environment, and before both: the state bucket, the
  secrets key, the CI roles and the image repositories they stand on. Its stacks are named after accounts, so
  it is in `ACCOUNT_LAYERS`, not in `LAYERS` or `DEPLOY_ORDER`, and it reads no other layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AWS_PROJECT = "philosophy-infra"
KUBERNETES_PROJECT = "philosophy-kubernetes"
BOOTSTRAP_PROJECT = "philosophy-bootstrap"


class LayerName(StrEnum):
    AWS = "aws"
    KUBERNETES = "kubernetes"
    BOOTSTRAP = "bootstrap"


@dataclass(frozen=True)
class Layer:
    name: LayerName
    project: str
    subdirectory: str
    """Where its Pulumi.yaml, stack files and __main__.py live, relative to the repository root."""

    def directory(self, root: Path = ROOT) -> Path:
        return root / self.subdirectory if self.subdirectory else root


# The environment layers: a stack per environment (staging, prod) in each.
LAYERS = {
    LayerName.AWS: Layer(LayerName.AWS, AWS_PROJECT, ""),
    LayerName.KUBERNETES: Layer(LayerName.KUBERNETES, KUBERNETES_PROJECT, "kubernetes"),
}
# The order a deploy follows, and the reverse of a teardown.
DEPLOY_ORDER = (LayerName.AWS, LayerName.KUBERNETES)
# One stack per AWS account, planned only when asked for (`--layer bootstrap`).
ACCOUNT_LAYERS = {LayerName.BOOTSTRAP: Layer(LayerName.BOOTSTRAP, BOOTSTRAP_PROJECT, "bootstrap")}
ALL_LAYERS = {**LAYERS, **ACCOUNT_LAYERS}
