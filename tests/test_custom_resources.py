"""Every custom resource the Kubernetes layer registers, of a kind whose CRD is vendored (tests/data/crds, with
its source and version), validates against that CRD's schema strictly: a misspelt field, which the API server
would silently prune, fails here."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from philosophy_infra.manifests import kubernetes_objects
from philosophy_infra.release.render import stack_release_objects
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import ROOT
from tests.test_monitoring import strict

CRDS = Path(__file__).parent / "data" / "crds"
# (group, kind) -> the vendored CRD file.
VENDORED = {
    ("external-secrets.io", "ExternalSecret"): "external-secrets.io_externalsecrets-v2.0.1.yaml",
    ("external-secrets.io", "SecretStore"): "external-secrets.io_secretstores-v2.0.1.yaml",
    ("generators.external-secrets.io", "Password"): "generators.external-secrets.io_passwords-v2.0.1.yaml",
    ("monitoring.coreos.com", "PodMonitor"): "podmonitors.monitoring.coreos.com-v0.93.1.yaml",
    ("monitoring.coreos.com", "PrometheusRule"): "prometheusrules.monitoring.coreos.com-v0.93.1.yaml",
    ("argoproj.io", "Application"): "applications.argoproj.io-v3.4.4.yaml",
    ("argoproj.io", "AppProject"): "appprojects.argoproj.io-v3.4.4.yaml",
    ("argoproj.io", "Rollout"): "rollouts.argoproj.io-v1.9.0.yaml",
    ("argoproj.io", "AnalysisTemplate"): "analysistemplates.argoproj.io-v1.9.0.yaml",
    ("networking.istio.io", "VirtualService"): "virtualservices.networking.istio.io-1.30.3.yaml",
    ("networking.istio.io", "DestinationRule"): "destinationrules.networking.istio.io-1.30.3.yaml",
    ("networking.istio.io", "Gateway"): "gateways.networking.istio.io-1.30.3.yaml",
    ("security.istio.io", "PeerAuthentication"): "peerauthentications.security.istio.io-1.30.3.yaml",
    ("telemetry.istio.io", "Telemetry"): "telemetries.telemetry.istio.io-1.30.3.yaml",
    ("elbv2.k8s.aws", "TargetGroupBinding"): "targetgroupbindings.elbv2.k8s.aws-v3.5.0.yaml",
}


@cache
def validator(group: str, kind: str, version: str) -> jsonschema.Draft7Validator:
    documents = [d for d in yaml.safe_load_all((CRDS / VENDORED[group, kind]).read_text()) if d]
    [served] = [v for d in documents for v in d["spec"]["versions"] if v["name"] == version]
    assert served["served"], (group, kind, version)
    schema = served["schema"]["openAPIV3Schema"]
    # The API server always accepts an object's type and metadata; some CRDs (Istio's) list only spec and status.
    schema["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        **schema.get("properties", {}),
    }
    return jsonschema.Draft7Validator(strict(schema))


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_custom_resources_validate_against_their_crds(stack: str, request: pytest.FixtureRequest) -> None:
    """Pulumi's objects (the plan's) and Argo CD's (the rendered release objects) alike."""
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    checked: dict[tuple[str, str], int] = {}
    for o in [*kubernetes_objects(plan), *stack_release_objects(ROOT, stack)]:
        group, _, version = o["apiVersion"].rpartition("/")
        if (group, o["kind"]) in VENDORED:
            validator(group, o["kind"], version).validate(o)
            checked[group, o["kind"]] = checked.get((group, o["kind"]), 0) + 1
    # Every vendored kind is in use, so none of these checks is vacuous.
    assert set(checked) == set(VENDORED)
    assert checked["external-secrets.io", "ExternalSecret"] >= 7
    assert checked["monitoring.coreos.com", "PodMonitor"] >= 3
    assert checked["networking.istio.io", "DestinationRule"] == 2


def test_a_misspelt_field_is_refused() -> None:
    secret: dict[str, Any] = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"refreshIntervall": "1h", "secretStoreRef": {"kind": "SecretStore", "name": "s"}},
    }
    with pytest.raises(jsonschema.ValidationError, match="refreshIntervall"):
        validator("external-secrets.io", "ExternalSecret", "v1").validate(secret)
