"""The AWS layer's outputs, as the Kubernetes layer reads them: one StackReference, typed accessors.

Every value the Kubernetes layer needs from AWS comes through here, so each has one source: the AWS layer's
config and resources. A missing output is an error naming it (the AWS layer's stack is older than this
program, or not deployed), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pulumi
from pulumi.runtime.sync_await import _sync_await

from philosophy_infra.config.base import KUBERNETES_NAMESPACE, ConfigIssue, DataProtection, StackConfigError


class AwsLayerOutputs:
    def __init__(self, stack_name: str) -> None:
        self.stack_name = stack_name
        self.reference = pulumi.StackReference(stack_name)

    def get(self, name: str) -> pulumi.Output[Any]:
        """A required output (secret if the AWS layer exported it as one)."""
        return self.reference.require_output(name)

    def text(self, name: str) -> pulumi.Output[str]:
        return cast(pulumi.Output[str], self.get(name))

    @property
    def kubeconfig(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self.text("kubeconfig"))

    @property
    def data_protection(self) -> pulumi.Output[DataProtection]:
        return self.get("dataProtection").apply(DataProtection)

    def role_arn(self, service_account: str) -> pulumi.Output[str]:
        return self.get("serviceAccountRoleArns").apply(lambda arns: _required(arns, service_account, self))

    def value_now(self, name: str) -> Any:
        """A non-secret output's value, now, while the program is still deciding what to register: for the
        checks that must fail before any resource exists. The SDK's own synchronous invokes wait the same way.
        """
        details = _sync_await(self.reference.get_output_details(name))
        if details.value is None:
            raise pulumi.RunError(f"the AWS layer ({self.stack_name}) exports no plain output {name!r}")
        return details.value

    def node_group_placement(self, node_group: str, config_key: str) -> Mapping[str, Any]:
        """The labels to select and the tolerations to carry for `node_group`, a key of the AWS layer's
        nodeGroups. A group that does not exist, or has no labels to select, is a config error of this layer,
        raised before any resource is registered."""
        groups: Mapping[str, Any] = self.value_now("nodeGroups")
        problem = None
        if node_group not in groups:
            problem = f"the AWS layer ({self.stack_name}) has no such node group; it has: {', '.join(sorted(groups))}"
        elif not groups[node_group].get("nodeSelector"):
            problem = "that node group has no labels to select it by"
        if problem:
            issue = ConfigIssue(config_key, node_group, problem, namespace=KUBERNETES_NAMESPACE)
            raise StackConfigError(pulumi.get_stack(), [issue])
        return cast(Mapping[str, Any], groups[node_group])

    def port(self, name: str) -> pulumi.Output[int]:
        # Numbers cross a StackReference as JSON numbers, which Python reads as floats.
        return self.get(name).apply(int)

    def cidrs(self, name: str) -> pulumi.Output[Sequence[str]]:
        return cast(pulumi.Output[Sequence[str]], self.get(name))


def _required(values: Mapping[str, str], key: str, layer: AwsLayerOutputs) -> str:
    if key not in values:
        raise pulumi.RunError(f"the AWS layer ({layer.stack_name}) exports no role for service account {key!r}")
    return values[key]
