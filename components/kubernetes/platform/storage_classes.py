"""The cluster's StorageClasses: encrypted gp3 volumes from the EBS CSI driver (an EKS add-on of the AWS layer).

- `gp3`, the default: retains its volumes in protected stacks, so a deleted claim does not take data with it.
- `gp3-scratch`: deletes the volume with its claim, for per-pod scratch space (the api's uploads staging);
  with the default class every rollout and scale-down would leave a volume behind in protected stacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from philosophy_infra.config.base import DataProtection

DEFAULT_CLASS, SCRATCH_CLASS = "gp3", "gp3-scratch"


@dataclass(frozen=True, kw_only=True)
class StorageClassesArgs:
    provider: k8s.Provider
    data_protection: pulumi.Input[DataProtection] = DataProtection.PROTECTED
    """The AWS layer's: in a protected stack the default class retains volumes."""


class StorageClasses(pulumi.ComponentResource):
    default_class: str
    scratch_class: str
    scratch: k8s.storage.v1.StorageClass

    def __init__(self, name: str, args: StorageClassesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:StorageClasses", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        retain = pulumi.Output.from_input(args.data_protection).apply(
            lambda protection: "Retain" if DataProtection(protection) is DataProtection.PROTECTED else "Delete"
        )
        encrypted_gp3_storage_class(
            f"{name}-{DEFAULT_CLASS}",
            DEFAULT_CLASS,
            reclaim_policy=retain,
            default=True,
            opts=on_cluster,
        )
        self.scratch = encrypted_gp3_storage_class(
            f"{name}-{SCRATCH_CLASS}", SCRATCH_CLASS, reclaim_policy="Delete", default=False, opts=on_cluster
        )
        self.default_class, self.scratch_class = DEFAULT_CLASS, SCRATCH_CLASS
        self.register_outputs({"defaultClass": DEFAULT_CLASS, "scratchClass": SCRATCH_CLASS})


def encrypted_gp3_storage_class(
    resource_name: str,
    class_name: str,
    *,
    reclaim_policy: pulumi.Input[str],
    default: bool,
    opts: pulumi.ResourceOptions,
    volume_tags: pulumi.Input[Mapping[str, str]] | None = None,
) -> k8s.storage.v1.StorageClass:
    """An EBS CSI StorageClass of encrypted gp3 volumes, bound where the pod lands (its zone), expandable.
    `volume_tags`: tags the driver puts on each volume it creates (`tagSpecification_<n>`), for a snapshot policy."""
    parameters = pulumi.Output.from_input(volume_tags or {}).apply(
        lambda tags: {
            "type": "gp3",
            "encrypted": "true",
            "csi.storage.k8s.io/fstype": "ext4",
            **{f"tagSpecification_{i}": f"{k}={v}" for i, (k, v) in enumerate(sorted(tags.items()), start=1)},
        }
    )
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata={"name": class_name, "annotations": annotations},
        provisioner="ebs.csi.aws.com",
        parameters=parameters,
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy=reclaim_policy,
        opts=opts,
    )
