"""The injection simulation (tests/istio_injection.py) against Istio itself, and the service's pods against Pod
Security `restricted` once Istio's webhook has injected its containers.

- Against the template: the vendored 1.30.3 template is rendered here (a small Go text/template evaluator, with
  Istio's and sprig's functions it uses) with the istiod chart's defaults and our `istiod_values()`, and what it
  injects (containers, security contexts, ports, mounts, volumes) must equal the simulation's, for our values and
  for every other value the simulation takes. Cited template lines are checked too.
- Against istiod's Go code: upstream's own injection goldens (pkg/kube/inject/testdata, vendored) fix what the
  template alone does not say: order, the pod's own `istio-proxy`, and that the pod's securityContext is kept.
- Pod Security: a hardened pod still passes the `k8s-pod-security-restricted` policy's check after injection,
  and the variants that would not (no CNI, privileged, TPROXY, capNetBindService...) fail it.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.platform.service_mesh import ISTIO_HUB, ISTIO_VERSION, istiod_values
from philosophy_infra import policy_check
from tests import istio_injection
from tests.conftest import ROOT
from tests.istio_injection import INIT, PROXY, VALIDATION, inject

guardrails = policy_check.load_guardrails(ROOT)
DATA = Path(__file__).parent / "data"
COMMIT = "56df41f63e513f834c9a3af33d8aed82d1d961f2"
GOLDENS = DATA / "istio" / "inject-1.30.3"
INJECTED = (INIT, VALIDATION, PROXY)


def vendored(path: Path) -> str:
    """The upstream text of a vendored file: after its one-line header naming the commit."""
    header, text = path.read_text().split("\n", 1)
    assert header.startswith(f"# istio/istio@{COMMIT}, ") and "Apache-2.0" in header and "Test data" in header
    return text


TEMPLATE_TEXT = vendored(istio_injection.TEMPLATE)


# --- A small Go text/template evaluator, enough for the injection template ------------------------------------

ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
EXPRESSION_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:\\.|[^"\\])*"|`[^`]*`)
    | (?P<close>\))(?P<after>(?:\.\w+)+)?
    | (?P<open>\()
    | (?P<pipe>\|)
    | (?P<number>-?\d+)
    | (?P<variable>\$\w*(?:\.\w+)*)
    | (?P<field>(?:\.\w+)+|\.)
    | (?P<word>\w+)
    )""",
    re.X,
)


class Opaque(str):
    """The result of a function the evaluator does not model (protoToJSON...): printable, but never a condition."""


def truthy(value: Any) -> bool:
    if isinstance(value, Opaque):
        raise AssertionError(f"the template branches on an unmodelled value {value!r}")
    return bool(value)


def go_print(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, list):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    return str(value)


def walk(value: Any, fields: list[str]) -> Any:
    for name in fields:
        if isinstance(value, Mapping):
            value = value.get(name)
        elif isinstance(value, str) and name == "String":  # an enum's String method
            pass
        else:
            raise AssertionError(f"nil pointer evaluating .{name}")
    return value


def same_kind(a: Any, b: Any) -> bool:
    kinds = (bool, int, float, str)
    return next((k for k in kinds if isinstance(a, k)), type(a)) is next(
        (k for k in kinds if isinstance(b, k)), type(b)
    )


def eq(a: Any, *others: Any) -> bool:
    # text/template's eq: values of different basic kinds are an error, unless one is missing (nil): false.
    for b in others:
        if a is not None and b is not None and not same_kind(a, b):
            raise AssertionError(f"incompatible types for comparison: {a!r}, {b!r}")
        if a == b and a is not None:
            return True
    return False


def empty(value: Any) -> bool:
    return value is None or value is False or value == 0 or (isinstance(value, str | list | dict) and not value)


def and_(*args: Any) -> Any:
    for arg in args:
        if not truthy(arg):
            return arg
    return args[-1]


def or_(*args: Any) -> Any:
    for arg in args:
        if truthy(arg):
            return arg
    return args[-1]


def to_yaml(value: Any) -> str:
    # sigs.k8s.io/yaml.Marshal: block style, sorted keys, a final newline.
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True) if value is not None else "null\n"


def istio_indent(spaces: int, text: str) -> str:
    # Istio's own `indent` (pkg/kube/inject/template.go:159-167): every line but the first.
    lines = text.split("\n")
    return "\n".join([lines[0], *(" " * spaces + line for line in lines[1:])])


def exclude_inbound_port(port: Any, excluded: str) -> str:
    # template.go:101-125.
    port_text = go_print(port).strip()
    if not port_text or port_text == "0":
        return excluded
    ports = [p.strip() for p in excluded.split(",")]
    if port_text in ports:
        return excluded
    return ",".join([*(p for p in ports if p), port_text])


def annotation(meta: Mapping[str, Any], name: str, default: Any) -> str:
    # template.go:179-185: fmt.Sprint of the default.
    annotations = meta.get("Annotations") or {}
    return str(annotations[name]) if name in annotations else ("<nil>" if default is None else go_print(default))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not truthy(v),
    "and": and_,
    "or": or_,
    "eq": eq,
    "ne": lambda a, b: not eq(a, b),
    "ge": lambda a, b: a >= b,
    "len": len,
    "list": lambda *v: list(v),
    "append": lambda items, v: [*items, v],
    "join": lambda sep, items: sep.join(go_print(i) for i in items),
    "default": lambda fallback, value=None: fallback if empty(value) else value,
    "quote": lambda *v: " ".join(json.dumps(go_print(x)) for x in v if x is not None),
    "printf": lambda fmt, *v: re.sub(r"%[stdv]", "{}", fmt).format(*(go_print(x) for x in v)),
    "trunc": lambda n, s: s[:n],
    "trimSuffix": lambda suffix, s: s[: -len(suffix)] if suffix and s.endswith(suffix) else s,
    "toLower": lambda s: s.lower(),
    "contains": lambda needle, haystack: needle in haystack,  # Istio's flippedContains
    "isset": lambda m, key: key in (m or {}),
    "index": lambda m, *keys: m[keys[0]] if isinstance(m, list) else walk(m, list(keys)),
    "valueOrDefault": lambda v, d: d if v in ("", None) else v,
    "annotation": annotation,
    "excludeInboundPort": exclude_inbound_port,
    "toYaml": to_yaml,
    "indent": istio_indent,
    "nindent": lambda n, s: "\n" + "\n".join(" " * n + line for line in s.split("\n")),  # sprig's
    "omitNil": lambda v: v,
    "fromJSON": json.loads,
    "structToJSON": lambda v: json.dumps(v, separators=(",", ":")),
    # Only the proxy's OTEL_RESOURCE_ATTRIBUTES, empty unless a provider asks for OTel semantic conventions
    # (template.go:424-438); our providers do not.
    "otelResourceAttributes": lambda *_: "",
}


@dataclass
class Scope:
    dot: Any
    variables: list[dict[str, Any]] = field(default_factory=lambda: [{}])

    def lookup(self, name: str) -> Any:
        for frame in reversed(self.variables):
            if name in frame:
                return frame[name]
        raise AssertionError(f"undefined variable {name}")

    def assign(self, name: str, value: Any) -> None:
        for frame in reversed(self.variables):
            if name in frame:
                frame[name] = value
                return
        raise AssertionError(f"undefined variable {name}")


class Evaluator:
    """Parses and renders a template: text/template's actions, trim markers, if/else if/else, with, range,
    define/template and variables; functions from `FUNCTIONS`, any other one opaque (see `Opaque`)."""

    def __init__(self) -> None:
        self.defines: dict[str, list[Any]] = {}

    # Expressions (pipelines of commands).
    def pipeline(self, text: str, scope: Scope) -> Any:
        tokens = [(m.lastgroup, m) for m in EXPRESSION_TOKEN.finditer(text) if m.group().strip()]
        assert "".join(m.group() for _, m in tokens).strip() == text.strip(), f"cannot tokenise {text!r}"
        value, rest = self._pipeline([m for _, m in tokens], scope)
        assert not rest, f"trailing tokens in {text!r}"
        return value

    def _pipeline(self, tokens: list[re.Match[str]], scope: Scope) -> tuple[Any, list[re.Match[str]]]:
        value, tokens = self._command(tokens, scope, None)
        while tokens and tokens[0].group("pipe"):
            value, tokens = self._command(tokens[1:], scope, [value])
        return value, tokens

    def _command(
        self, tokens: list[re.Match[str]], scope: Scope, piped: list[Any] | None
    ) -> tuple[Any, list[re.Match[str]]]:
        operands: list[Any] = []
        function = None
        if tokens and tokens[0].group("word") and tokens[0].group("word") not in ("true", "false", "nil"):
            name = tokens[0].group("word")
            function = FUNCTIONS.get(name) or (lambda *_, name=name: Opaque(f"<{name}>"))
            tokens = tokens[1:]
        while tokens and not tokens[0].group("pipe") and not tokens[0].group("close"):
            operand, tokens = self._operand(tokens, scope)
            operands.append(operand)
        operands += piped or []
        if function is not None:
            return function(*operands), tokens
        assert len(operands) == 1, f"not a function call: {operands!r}"
        return operands[0], tokens

    def _operand(self, tokens: list[re.Match[str]], scope: Scope) -> tuple[Any, list[re.Match[str]]]:
        token, rest = tokens[0], tokens[1:]
        if token.group("open"):
            value, rest = self._pipeline(rest, scope)
            close = rest[0]
            assert close.group("close"), "unbalanced parentheses"
            if close.group("after"):
                value = walk(value, close.group("after").split(".")[1:])
            return value, rest[1:]
        if token.group("string") is not None:
            text = token.group("string")
            return (text[1:-1] if text.startswith("`") else json.loads(text)), rest
        if token.group("number") is not None:
            return int(token.group("number")), rest
        if token.group("variable") is not None:
            name, *fields = token.group("variable").split(".")
            return walk(scope.lookup(name), fields), rest
        if token.group("field") is not None:
            text = token.group("field")
            return (scope.dot if text == "." else walk(scope.dot, text.split(".")[1:])), rest
        word = token.group("word")
        assert word in ("true", "false", "nil"), f"unexpected {word!r}"
        return {"true": True, "false": False, "nil": None}[word], rest

    # Statements.
    def parse(self, text: str) -> list[Any]:
        pieces: list[tuple[str, str]] = []
        position, trim_next = 0, False
        for match in ACTION.finditer(text):
            chunk = text[position : match.start()]
            chunk = chunk.lstrip() if trim_next else chunk
            pieces.append(("text", chunk.rstrip() if match.group(1) else chunk))
            pieces.append(("action", " ".join(match.group(2).split())))
            position, trim_next = match.end(), bool(match.group(3))
        tail = text[position:]
        pieces.append(("text", tail.lstrip() if trim_next else tail))
        nodes, rest, end = self._block(pieces)
        assert not rest and end is None, "unbalanced template"
        return nodes

    def _block(self, pieces: list[tuple[str, str]]) -> tuple[list[Any], list[tuple[str, str]], str | None]:
        nodes: list[Any] = []
        while pieces:
            (kind, text), pieces = pieces[0], pieces[1:]
            if kind == "text":
                nodes.append(("text", text))
            elif text == "end" or text == "else" or text.startswith("else "):
                return nodes, pieces, text
            elif text.startswith(("if ", "with ", "range ", "define ")):
                keyword, _, first = text.partition(" ")
                expression: str | None = first
                branches: list[tuple[str | None, list[Any]]] = []
                while True:
                    body, pieces, end = self._block(pieces)
                    branches.append((expression, body))
                    if end == "end":
                        break
                    assert end is not None and keyword in ("if", "with", "range"), f"unclosed {keyword}"
                    expression = end.removeprefix("else if ") if end.startswith("else if ") else None
                if keyword == "define":
                    self.defines[json.loads(branches[0][0] or "")] = branches[0][1]
                else:
                    nodes.append((keyword, branches))
            elif text.startswith("/*"):
                continue
            else:
                nodes.append(("action", text))
        return nodes, pieces, None

    def render(self, nodes: list[Any], scope: Scope) -> str:
        return "".join(self._render(node, scope) for node in nodes)

    def _render(self, node: Any, scope: Scope) -> str:
        kind, payload = node
        if kind == "text":
            return str(payload)
        if kind == "action":
            assignment = re.fullmatch(r"(\$\w+)\s*(:?=)\s*(.*)", payload, re.S)
            if assignment:
                name, operator, expression = assignment.groups()
                value = self.pipeline(expression, scope)
                if operator == ":=":
                    scope.variables[-1][name] = value
                else:
                    scope.assign(name, value)
                return ""
            called = re.fullmatch(r'template "(\w+)" (.*)', payload)
            if called:
                return self.render(self.defines[called.group(1)], Scope(self.pipeline(called.group(2), scope)))
            return go_print(self.pipeline(payload, scope))
        if kind == "if":
            for condition, body in payload:
                if condition is None or truthy(self.pipeline(condition, scope)):
                    return self._nested(body, scope, scope.dot)
            return ""
        if kind == "with":
            (expression, body), *others = payload
            value = self.pipeline(expression, scope)
            if truthy(value):
                return self._nested(body, scope, value)
            return self._nested(others[0][1], scope, scope.dot) if others else ""
        assert kind == "range", kind
        (expression, body), *others = payload
        names, _, source = expression.rpartition(":=")
        items = self.pipeline(source, scope)
        pairs = sorted(items.items()) if isinstance(items, Mapping) else list(enumerate(items or []))
        if not pairs:
            return self._nested(others[0][1], scope, scope.dot) if others else ""
        variables = [n.strip() for n in names.split(",") if n.strip()]
        out = []
        for key, value in pairs:
            bound = dict(
                zip(variables, (key, value) if len(variables) == 2 else (value,)[: len(variables)], strict=True)
            )
            out.append(self.render(body, Scope(value, [*scope.variables, bound])))
        return "".join(out)

    def _nested(self, body: list[Any], scope: Scope, dot: Any) -> str:
        return self.render(body, Scope(dot, [*scope.variables, {}]))


def merge_overwrite(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """sprig's mustMergeOverwrite, as the chart's zzz_profile.yaml merges our values onto its defaults."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_overwrite(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def chart_values(overrides: Mapping[str, Any] = {}, *, ours: bool = True) -> dict[str, Any]:
    """The istiod chart's values: its defaults, then `istiod_values()` (unless not `ours`), then `overrides`
    (each replacing the value at its dotted path, not merged)."""
    defaults = yaml.safe_load((DATA / "charts" / "istio-istiod-1.30.3-values.yaml").read_text())
    values = defaults["_internal_defaults_do_not_set"]
    if ours:
        values = merge_overwrite(values, istiod_values())
    for path, value in overrides.items():
        *parents, last = path.split(".")
        target = values
        for name in parents:
            target = target.setdefault(name, {})
        target[last] = value
    return values


def injector_values(values: Mapping[str, Any]) -> dict[str, Any]:
    # The `values` the chart gives the injector (templates/istiod-injector-configmap.yaml:18-20).
    picked = {k: copy.deepcopy(values[k]) for k in ("global", "sidecarInjectorWebhook", "revision") if k in values}
    return {**picked, "pilot": {"cni": copy.deepcopy(values["cni"]), "env": copy.deepcopy(values["env"])}}


def render_template(
    pod: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    native: bool = True,
    proxy_config: Mapping[str, Any] = {},
    annotations: Mapping[str, str] = {},
) -> dict[str, Any]:
    """The vendored template rendered as istiod renders it (SidecarTemplateData, inject.go:457-472)."""
    containers = [
        {"Name": c["name"], "Ports": c.get("ports") or []} for c in pod.get("containers") or [] if c.get("name")
    ]
    data = {
        "TypeMeta": {"APIVersion": "apps/v1", "Kind": "Deployment"},
        "DeploymentMeta": {"Name": "app", "Namespace": "app"},
        "ObjectMeta": {"Annotations": dict(annotations), "Labels": {"app": "app"}},
        "Spec": {"Containers": containers, "ServiceAccountName": pod.get("serviceAccountName") or ""},
        "ProxyConfig": {
            "InterceptionMode": "REDIRECT",
            "ProxyMetadata": {},
            "HoldApplicationUntilProxyStarts": {"GetValue": False},
            "GetTracing": {"GetTlsSettings": None},
            **proxy_config,
        },
        "MeshConfig": {"ProxyListenPort": 0, "ProxyInboundListenPort": 0, "TrustDomain": "cluster.local"},
        "Values": injector_values(values),
        "Revision": "",
        # ProxyImage (inject.go:466): global.hub, global.proxy.image, global.tag (no variant).
        "ProxyImage": f"{values['global']['hub']}/{values['global']['proxy']['image']}:{values['global']['tag']}",
        "NativeSidecars": native,
        # GetProxyIDs (inject.go:949-967): 1337 and 1337 outside OpenShift.
        "ProxyUID": 1337,
        "ProxyGID": 1337,
        "InboundTrafficPolicyMode": "",
        "CompliancePolicy": "",
    }
    evaluator = Evaluator()
    nodes = evaluator.parse(TEMPLATE_TEXT)
    return yaml.safe_load(evaluator.render(nodes, Scope(data)))


def defaulted_volume(volume: Mapping[str, Any]) -> dict[str, Any]:
    """A volume as the API server admits it: a volume with no source (`emptyDir:` with no value) is an emptyDir."""
    kept = {k: v for k, v in volume.items() if v is not None}
    return kept if set(kept) - {"name"} else {**kept, "emptyDir": {}}


# --- The simulation against the rendered template -------------------------------------------------------------

APP_POD: dict[str, Any] = {
    "serviceAccountName": "app",
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "initContainers": [
        {
            "name": "migrate",
            "image": "app:1",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
    "containers": [
        {
            "name": "app",
            "image": "app:1",
            "ports": [{"name": "http", "containerPort": 8000}],
            "securityContext": {
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
}

# Each keyword of `inject` with another value, and the chart value / mesh setting that gives it.
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (inject keywords, chart value overrides, render_template keywords)
    "ours": ({}, {}, {}),
    "no-cni": ({"cni": False}, {"cni.enabled": False}, {}),
    "no-native-sidecars": ({"native_sidecars": False}, {}, {"native": False}),
    "no-cni-no-native": ({"cni": False, "native_sidecars": False}, {"cni.enabled": False}, {"native": False}),
    "privileged": ({"privileged": True}, {"global.proxy.privileged": True}, {}),
    "no-seccomp": ({"seccomp_profile": None}, {"global.proxy.seccompProfile": {}}, {}),
    "localhost-seccomp": (
        {"seccomp_profile": {"type": "Localhost", "localhostProfile": "istio.json"}},
        {"global.proxy.seccompProfile": {"type": "Localhost", "localhostProfile": "istio.json"}},
        {},
    ),
    "tproxy": ({"interception_mode": "TPROXY"}, {}, {"proxy_config": {"InterceptionMode": "TPROXY"}}),
    "tproxy-no-cni": (
        {"interception_mode": "TPROXY", "cni": False},
        {"cni.enabled": False},
        {"proxy_config": {"InterceptionMode": "TPROXY"}},
    ),
    "no-interception": ({"interception_mode": "NONE"}, {}, {"proxy_config": {"InterceptionMode": "NONE"}}),
    "no-interception-no-native": (
        {"interception_mode": "NONE", "native_sidecars": False},
        {},
        {"proxy_config": {"InterceptionMode": "NONE"}, "native": False},
    ),
    "cap-net-bind-service": ({"cap_net_bind_service": True}, {"global.proxy.capNetBindService": True}, {}),
    "tproxy-and-cap-net-bind-service": (
        {"interception_mode": "TPROXY", "cap_net_bind_service": True},
        {"global.proxy.capNetBindService": True},
        {"proxy_config": {"InterceptionMode": "TPROXY"}},
    ),
    "iptables-trace-logging": (
        {"iptables_trace_logging": True},
        {},
        {"proxy_config": {"ProxyMetadata": {"IPTABLES_TRACE_LOGGING": "true"}}},
    ),
    "gke-ca": ({"ca_name": "GkeWorkloadCertificate"}, {"global.caName": "GkeWorkloadCertificate"}, {}),
    "no-istiod-ca": ({"pilot_cert_provider": "kubernetes"}, {"global.pilotCertProvider": "kubernetes"}, {}),
    "cluster-trust-bundle": (
        {"cluster_trust_bundle": True},
        {"env": {"ENABLE_CLUSTER_TRUST_BUNDLE_API": True}},
        {},
    ),
    "mtls-certs": ({"mount_mtls_certs": True}, {"global.mountMtlsCerts": True}, {}),
}


def injected(spec: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The injected containers by name: (the list they are in, the container)."""
    return {
        container["name"]: (where, container)
        for where in ("initContainers", "containers")
        for container in spec.get(where) or []
        if container["name"] in INJECTED
    }


SIMULATED_FIELDS = ("image", "restartPolicy", "ports", "securityContext", "volumeMounts")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_simulation_matches_the_rendered_template(variant: str) -> None:
    keywords, overrides, render_keywords = VARIANTS[variant]
    rendered = render_template(APP_POD, chart_values(overrides), **render_keywords)["spec"]
    simulated = inject(APP_POD, **keywords)
    template_containers, simulated_containers = injected(rendered), injected(simulated)
    assert set(template_containers) == set(simulated_containers)
    for name, (where, container) in template_containers.items():
        assert simulated_containers[name][0] == where, name
        expected = {k: container[k] for k in SIMULATED_FIELDS if container.get(k) is not None}
        assert {k: simulated_containers[name][1][k] for k in expected} == expected, name
        assert set(simulated_containers[name][1]) - {"name"} <= set(expected), (
            f"{name}: simulates more than the template"
        )
    own = {v["name"] for v in APP_POD["volumes"]}
    assert [v for v in simulated["volumes"] if v["name"] not in own] == [
        defaulted_volume(v) for v in rendered["volumes"]
    ]
    # The template writes no pod-level securityContext, so the pod's own is left as it is.
    assert "securityContext" not in rendered
    assert simulated["securityContext"] == APP_POD["securityContext"]


def test_defaults_are_our_values() -> None:
    parameters = inspect.signature(inject).parameters
    ours = chart_values()
    assert parameters["cni"].default is ours["cni"]["enabled"] is True
    assert dict(parameters["seccomp_profile"].default) == ours["global"]["proxy"]["seccompProfile"]
    assert parameters["privileged"].default is ours["global"]["proxy"]["privileged"] is False
    assert parameters["ca_name"].default == ours["global"]["caName"]
    assert parameters["pilot_cert_provider"].default == ours["global"]["pilotCertProvider"]
    assert parameters["mount_mtls_certs"].default is ours["global"]["mountMtlsCerts"]
    assert "capNetBindService" not in ours["global"]["proxy"] and parameters["cap_net_bind_service"].default is False
    assert "ENABLE_CLUSTER_TRUST_BUNDLE_API" not in ours["env"] and parameters["cluster_trust_bundle"].default is False
    assert parameters["image"].default == istio_injection.PROXY_IMAGE == f"{ISTIO_HUB}/proxyv2:{ISTIO_VERSION}"


def test_annotations_act_like_the_keywords() -> None:
    """The pod annotations the template reads (T:27-29) give what the matching keyword simulates."""
    values = chart_values()
    cases: list[tuple[dict[str, str], dict[str, Any]]] = [
        ({"sidecar.istio.io/interceptionMode": "TPROXY"}, {"interception_mode": "TPROXY"}),
        ({"sidecar.istio.io/capNetBindService": "true"}, {"cap_net_bind_service": True}),
        ({"sidecar.istio.io/nativeSidecar": "false"}, {"native_sidecars": False}),
    ]
    for pod_annotations, keywords in cases:
        rendered = render_template(APP_POD, values, annotations=pod_annotations)["spec"]
        simulated = injected(inject(APP_POD, **keywords))
        assert {n: (w, c["securityContext"]) for n, (w, c) in injected(rendered).items()} == {
            n: (w, c["securityContext"]) for n, (w, c) in simulated.items()
        }


# Lines the simulation's comments cite (upstream numbering: vendored line N+1), and what they must still say.
CITED = {
    28: "$capNetBindService := (eq (annotation .ObjectMeta `sidecar.istio.io/capNetBindService`",
    29: '| default (printf "%t" .NativeSidecars)) "false"',
    81: "{{ if ne (annotation .ObjectMeta `sidecar.istio.io/interceptionMode` .ProxyConfig.InterceptionMode) `NONE` }}",
    82: "{{ if .Values.pilot.cni.enabled -}}",
    83: "- name: istio-validation",
    85: "- name: istio-init",
    138: '- "--run-validation"',
    157: "allowPrivilegeEscalation: {{ .Values.global.proxy.privileged }}",
    158: "privileged: {{ .Values.global.proxy.privileged }}",
    160: "{{- if not .Values.pilot.cni.enabled }}",
    162: "- NET_ADMIN",
    163: "- NET_RAW",
    171: "runAsUser: 0",
    173: "readOnlyRootFilesystem: true",
    175: 'runAsUser: {{ if $tproxy }} 1337 {{ else }} {{ .ProxyUID | default "1337" }} {{ end }}',
    176: "runAsNonRoot: true",
    178: "{{- if .Values.global.proxy.seccompProfile }}",
    184: "{{ if not $nativeSidecar }}",
    187: "- name: istio-proxy",
    193: "{{ if $nativeSidecar }}restartPolicy: Always{{end}}",
    195: "- containerPort: 15090",
    379: '{{- if eq (index .ProxyConfig.ProxyMetadata "IPTABLES_TRACE_LOGGING") "true" }}',
    386: "privileged: true",
    390: "runAsUser: 0",
    392: "allowPrivilegeEscalation: {{ .Values.global.proxy.privileged }}",
    394: "{{ if or $tproxy $capNetBindService -}}",
    405: "privileged: {{ .Values.global.proxy.privileged }}",
    407: "{{ if or $tproxy $capNetBindService -}}",
    409: "runAsUser: 0",
    412: "runAsNonRoot: true",
    413: 'runAsUser: {{ .ProxyUID | default "1337" }}',
    417: "{{- if .Values.global.proxy.seccompProfile }}",
    473: "- emptyDir:",
    479: "csi:",
    497: "downwardAPI:",
    506: "projected:",
    521: "configMap:",
    532: "secret:",
}


def test_cited_template_lines() -> None:
    lines = TEMPLATE_TEXT.splitlines()
    for number, text in CITED.items():
        assert text in lines[number - 1], f"T:{number} is now {lines[number - 1]!r}"
    # The simulation cites only lines of the template (and at least these).
    source = Path(istio_injection.__file__).read_text()
    cited = {int(n) for n in re.findall(r"T:(\d+)", source)}
    assert cited and max(cited) <= len(lines)


def test_the_template_text() -> None:
    """What the Pod Security argument rests on, read in the template's text itself."""
    lines = TEMPLATE_TEXT.splitlines()
    # istio-init, with NET_ADMIN/NET_RAW and root, is only in the non-CNI branches of T:82-86, T:160-171.
    assert [n for n, line in enumerate(lines, 1) if "istio-init" in line] == [85]
    assert [n for n, line in enumerate(lines, 1) if "NET_RAW" in line] == [163]
    assert [n for n, line in enumerate(lines, 1) if "NET_ADMIN" in line] == [162, 383, 397]
    # The template never reads or writes the pod's own securityContext, nor its volumes.
    assert ".Spec.SecurityContext" not in TEMPLATE_TEXT and "fsGroup" not in TEMPLATE_TEXT
    assert ".Spec.Volumes" not in TEMPLATE_TEXT
    # No host namespaces, host ports or hostPath.
    for word in ("hostNetwork", "hostPID", "hostIPC", "hostPort", "hostPath"):
        assert word not in TEMPLATE_TEXT


# --- The simulation against istiod's own output (upstream goldens) ---------------------------------------------


def pod_spec(document: Mapping[str, Any]) -> dict[str, Any]:
    return document["spec"]["template"]["spec"] if document["kind"] != "Pod" else document["spec"]


def golden(name: str) -> dict[str, Any]:
    documents = [d for d in yaml.safe_load_all(vendored(GOLDENS / name)) if d]
    assert len(documents) == 1
    return pod_spec(documents[0])


GOLDEN_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    # input: (istiod's output, inject keywords; upstream's tests use the chart defaults: no seccomp profile)
    "hello.yaml": ("hello.yaml.cni.injected", {"cni": True}),
    "proxy-override-runas.yaml": ("proxy-override-runas.yaml.cni.injected", {"cni": True}),
    "native-sidecar.yaml": ("native-sidecar.yaml.injected", {"cni": False}),
    "explicit-security-context.yaml": ("explicit-security-context.yaml.injected", {"cni": False}),
}


@pytest.mark.parametrize("source", sorted(GOLDEN_CASES))
def test_simulation_matches_istiods_output(source: str) -> None:
    expected_name, keywords = GOLDEN_CASES[source]
    original, expected = golden(source), golden(expected_name)
    simulated = inject(original, seccomp_profile=None, **keywords)
    for where in ("initContainers", "containers"):
        assert [c["name"] for c in simulated.get(where) or []] == [c["name"] for c in expected.get(where) or []]
        for ours, theirs in zip(simulated.get(where) or [], expected.get(where) or [], strict=True):
            for key in ("restartPolicy", "ports", "securityContext"):
                assert ours.get(key) == theirs.get(key), f"{where}[{ours['name']}].{key}"
            if ours["name"] == PROXY:
                assert ours["volumeMounts"] == theirs["volumeMounts"]
    assert simulated["volumes"] == [defaulted_volume(v) for v in expected["volumes"]]
    assert simulated.get("securityContext") == expected.get("securityContext") == original.get("securityContext")


def test_the_evaluator_renders_as_istiod_does() -> None:
    """The template rendered here, with the chart's defaults and `cni.enabled`, injects what istiod injected
    into upstream's hello.yaml (args, probes and lifecycle too: the evaluator's output, not just the simulation's)."""
    rendered = render_template(golden("hello.yaml"), chart_values({"cni.enabled": True}, ours=False))["spec"]
    expected = injected(golden("hello.yaml.cni.injected"))
    fields = (*SIMULATED_FIELDS, "args", "lifecycle", "readinessProbe", "startupProbe")
    assert set(injected(rendered)) == set(expected) == {VALIDATION, PROXY}
    for name, (where, container) in injected(rendered).items():
        assert expected[name][0] == where
        ours = {k: container.get(k) for k in fields}
        for probe in ("readinessProbe", "startupProbe"):  # Go omits an int32 0 (initialDelaySeconds)
            ours[probe] = {k: v for k, v in (ours[probe] or {}).items() if v != 0} or None
        assert ours == {k: expected[name][1].get(k) for k in fields}, name
    assert [defaulted_volume(v) for v in rendered["volumes"]] == [
        defaulted_volume(v) for v in golden("hello.yaml.cni.injected")["volumes"]
    ]


def test_the_pods_own_istio_proxy_sets_the_user() -> None:
    """Only a pod-declared `istio-proxy` changes the proxy's user (and istio-validation follows it)."""
    spec = golden("proxy-override-runas.yaml")
    contexts = {name: c["securityContext"] for name, (_, c) in injected(inject(spec)).items()}
    for name in (PROXY, VALIDATION):
        assert (contexts[name]["runAsUser"], contexts[name]["runAsGroup"], contexts[name]["runAsNonRoot"]) == (
            1234,
            4321,
            True,
        )
    # TPROXY keeps the proxy root whatever the pod says (webhook.go:628-637).
    tproxy = injected(inject(spec, interception_mode="TPROXY"))
    assert tproxy[PROXY][1]["securityContext"]["runAsUser"] == 0


def test_host_network_pods_are_not_injected() -> None:
    pod = {**APP_POD, "hostNetwork": True}
    assert inject(pod) == pod and inject(pod) is not pod


# --- Pod Security `restricted` after injection -----------------------------------------------------------------


def restricted_problems(spec: Mapping[str, Any]) -> list[str]:
    return list(guardrails._pod_problems(copy.deepcopy(dict(spec))))


def test_a_hardened_pod_stays_restricted_once_injected() -> None:
    assert restricted_problems(APP_POD) == []
    spec = inject(APP_POD)
    assert restricted_problems(spec) == []
    assert [c["name"] for c in spec["initContainers"]] == [VALIDATION, PROXY, "migrate"]
    assert [c["name"] for c in spec["containers"]] == ["app"]
    proxy = spec["initContainers"][1]
    assert proxy["restartPolicy"] == "Always"
    # The proxy keeps 1337: its container-level runAsUser wins over the pod's 10001, which injection leaves alone.
    assert proxy["securityContext"]["runAsUser"] == spec["initContainers"][0]["securityContext"]["runAsUser"] == 1337
    assert spec["securityContext"] == APP_POD["securityContext"]
    # Both carry our seccomp profile and a read-only root filesystem (the advisory policy's check too).
    for container in spec["initContainers"][:2]:
        assert container["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {next(iter(set(v) - {"name"})) for v in spec["volumes"]} == {
        "emptyDir",
        "downwardAPI",
        "projected",
        "configMap",
    }


STAYS_RESTRICTED = [
    "ours", "no-native-sidecars", "no-interception", "no-interception-no-native", "localhost-seccomp", "gke-ca",
    "no-istiod-ca", "cluster-trust-bundle", "mtls-certs", "no-seccomp",
]  # fmt: skip


@pytest.mark.parametrize("variant", STAYS_RESTRICTED)
def test_variants_that_stay_restricted(variant: str) -> None:
    assert restricted_problems(inject(APP_POD, **VARIANTS[variant][0])) == []


def test_the_seccomp_value_covers_pods_without_a_profile() -> None:
    """With `global.proxy.seccompProfile` unset, the injected containers only inherit the pod's profile."""
    pod = copy.deepcopy(APP_POD)
    del pod["securityContext"]["seccompProfile"]
    pod["initContainers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert restricted_problems(inject(pod)) == []
    problems = restricted_problems(inject(pod, seccomp_profile=None))
    assert problems == [
        f"initContainers[{name}]: seccompProfile is unset (neither container nor pod sets RuntimeDefault)"
        for name in (VALIDATION, PROXY)
    ]


FAILING: dict[str, list[str]] = {
    "no-cni": [
        "initContainers[istio-init]: runAsNonRoot is false",
        "initContainers[istio-init]: runAsUser is 0 (root)",
        "initContainers[istio-init]: capabilities.add has NET_ADMIN, NET_RAW",
    ],
    "no-cni-no-native": [
        "initContainers[istio-init]: runAsNonRoot is false",
        "initContainers[istio-init]: runAsUser is 0 (root)",
        "initContainers[istio-init]: capabilities.add has NET_ADMIN, NET_RAW",
    ],
    "privileged": [
        f"initContainers[{name}]: {problem}"
        for name in (VALIDATION, PROXY)
        for problem in ("privileged is true", "allowPrivilegeEscalation is not false")
    ],
    "tproxy": [
        "initContainers[istio-proxy]: runAsNonRoot is false",
        "initContainers[istio-proxy]: runAsUser is 0 (root)",
        "initContainers[istio-proxy]: capabilities.add has NET_ADMIN",
    ],
    # NET_BIND_SERVICE itself is allowed, but the template then runs the proxy as root (T:407-410).
    "cap-net-bind-service": [
        "initContainers[istio-proxy]: runAsNonRoot is false",
        "initContainers[istio-proxy]: runAsUser is 0 (root)",
    ],
    "iptables-trace-logging": [
        "initContainers[istio-proxy]: privileged is true",
        "initContainers[istio-proxy]: allowPrivilegeEscalation is not false",
        "initContainers[istio-proxy]: runAsNonRoot is false",
        "initContainers[istio-proxy]: runAsUser is 0 (root)",
        "initContainers[istio-proxy]: capabilities.add has NET_ADMIN",
    ],
}


@pytest.mark.parametrize("variant", sorted(FAILING))
def test_variants_that_fail_restricted(variant: str) -> None:
    assert restricted_problems(inject(APP_POD, **VARIANTS[variant][0])) == FAILING[variant]


def test_every_variant_is_judged() -> None:
    combinations = {"tproxy-no-cni", "tproxy-and-cap-net-bind-service"}
    assert set(VARIANTS) == set(FAILING) | set(STAYS_RESTRICTED) | combinations
    for variant in combinations:
        assert restricted_problems(inject(APP_POD, **VARIANTS[variant][0]))
