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
from philosophy_infra.stack_plan import StackPlan
from tests.test_monitoring import strict

CRDS = Path(__file__).parent / "data" / "crds"
# (group, kind) -> the vendored CRD file.
VENDORED = {
    ("external-secrets.io", "ExternalSecret"): "external-secrets.io_externalsecrets-v2.0.1.yaml",
    ("external-secrets.io", "SecretStore"): "external-secrets.io_secretstores-v2.0.1.yaml",
    ("generators.external-secrets.io", "Password"): "generators.external-secrets.io_passwords-v2.0.1.yaml",
    ("monitoring.coreos.com", "PodMonitor"): "podmonitors.monitoring.coreos.com-v0.93.1.yaml",
    ("monitoring.coreos.com", "PrometheusRule"): "prometheusrules.monitoring.coreos.com-v0.93.1.yaml",
}


@cache
def validator(group: str, kind: str, version: str) -> jsonschema.Draft7Validator:
    documents = [d for d in yaml.safe_load_all((CRDS / VENDORED[group, kind]).read_text()) if d]
    [served] = [v for d in documents for v in d["spec"]["versions"] if v["name"] == version]
    assert served["served"], (group, kind, version)
    return jsonschema.Draft7Validator(strict(served["schema"]["openAPIV3Schema"]))


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_custom_resources_validate_against_their_crds(stack: str, request: pytest.FixtureRequest) -> None:
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    checked: dict[tuple[str, str], int] = {}
    for o in kubernetes_objects(plan):
        group, _, version = o["apiVersion"].rpartition("/")
        if (group, o["kind"]) in VENDORED:
            validator(group, o["kind"], version).validate(o)
            checked[group, o["kind"]] = checked.get((group, o["kind"]), 0) + 1
    # Every vendored kind is in use, so none of these checks is vacuous.
    assert set(checked) == set(VENDORED)
    assert checked["external-secrets.io", "ExternalSecret"] >= 7


def test_a_misspelt_field_is_refused() -> None:
    secret: dict[str, Any] = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"refreshIntervall": "1h", "secretStoreRef": {"kind": "SecretStore", "name": "s"}},
    }
    with pytest.raises(jsonschema.ValidationError, match="refreshIntervall"):
        validator("external-secrets.io", "ExternalSecret", "v1").validate(secret)
