"""The api's canary: the seed's steps, the Istio routing Argo Rollouts shifts, and the analysis that gates it.

- Steps (the seed's): 10%, pause 5m, analysis, 30%, pause 5m, 60%, pause 5m, 100%.
- Traffic: the ingress gateway's VirtualService route `primary` sends `stable` 100 and `canary` 0; Rollouts sets
  the weights and the subsets' pod-template-hash labels (which Argo CD therefore ignores, see the Application).
- Analysis: Istio's request metrics of the new version only (its pods' `app.kubernetes.io/version`, which the
  sidecar reports as `destination_canonical_revision`). Background analysis from step 1 runs until the rollout
  ends; the step's analysis takes five measurements. "No data yet" (no series, or 0/0) is neither success nor
  failure: a measurement is inconclusive, and a run with more than two inconclusive measurements pauses the
  rollout for a person to decide, never promotes it. A failed run aborts the rollout: traffic returns to stable.
"""

from __future__ import annotations

from typing import Any

from philosophy_infra.service import API, APP_NAMESPACE, INGRESS_NAMESPACE, PROMETHEUS_URL, WEBSOCKET

SUCCESS_RATE, LATENCY = "success-rate", "latency"
PRIMARY_ROUTE, STABLE, CANARY = "primary", "stable", "canary"
# The ingress gateway (ServiceMesh, Pulumi) these VirtualServices bind to.
GATEWAY = f"{INGRESS_NAMESPACE}/philosophy"
API_HOST = f"{API}.{APP_NAMESPACE}.svc.cluster.local"
WEBSOCKET_HOST = f"{WEBSOCKET}.{APP_NAMESPACE}.svc.cluster.local"
# Where the websocket is reached behind the gateway; everything else is the api.
WEBSOCKET_PATH = "/ws"
# Sticky sessions (the seed's STICKY_SESSIONS): the gateway hashes this cookie to pick a websocket pod, and sets
# it on a client's first request.
STICKY_COOKIE = "philosophy-ws"

MIN_SUCCESS_RATE = 0.95
MAX_P95_LATENCY_MS = 500
STEP_MEASUREMENTS = 5

CANARY_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"pause": {"duration": "5m"}},
    {
        "analysis": {
            "templates": [{"templateName": SUCCESS_RATE}],
            "args": [{"name": "measurements", "value": str(STEP_MEASUREMENTS)}],
        }
    },
    {"setWeight": 30},
    {"pause": {"duration": "5m"}},
    {"setWeight": 60},
    {"pause": {"duration": "5m"}},
    {"setWeight": 100},
]


def canary_strategy(version: str) -> dict[str, Any]:
    """The Rollout's `strategy.canary`; `version` is the new pods' `app.kubernetes.io/version` (the image tag)."""
    shared_args = [{"name": "service-name", "value": API_HOST}, {"name": "version", "value": version}]
    steps = [
        {"analysis": {**s["analysis"], "args": [*shared_args, *s["analysis"]["args"]]}} if "analysis" in s else s
        for s in CANARY_STEPS
    ]
    return {
        # Pods are added before any are taken away; traffic moves only by the VirtualService's weights.
        "maxSurge": "25%",
        "maxUnavailable": 0,
        "trafficRouting": {
            "istio": {
                "virtualService": {"name": API, "routes": [PRIMARY_ROUTE]},
                "destinationRule": {"name": API, "canarySubsetName": CANARY, "stableSubsetName": STABLE},
            }
        },
        "analysis": {
            "templates": [{"templateName": SUCCESS_RATE}, {"templateName": LATENCY}],
            "startingStep": 1,
            # 0: until the rollout ends.
            "args": [*shared_args, {"name": "measurements", "value": "0"}],
        },
        "steps": steps,
    }


# The new version's requests, as the api's sidecars report them.
SELECTOR = (
    'reporter="destination",destination_service="{{args.service-name}}",'
    'destination_canonical_revision="{{args.version}}"'
)


def _metric(name: str, query: str, holds: str, fails: str) -> dict[str, Any]:
    # `result` is a vector: empty when there is no series yet; NaN when there were no requests (0/0).
    has_data = "len(result) > 0 && !isNaN(result[0])"
    return {
        "name": name,
        "interval": "1m",
        # The queries' rate window: the canary's first requests are in Prometheus by then.
        "initialDelay": "2m",
        "count": "{{args.measurements}}",
        "successCondition": f"{has_data} && {holds}",
        "failureCondition": f"{has_data} && {fails}",
        "failureLimit": 2,
        "inconclusiveLimit": 2,
        "provider": {"prometheus": {"address": PROMETHEUS_URL, "query": query}},
    }


def analysis_templates() -> list[dict[str, Any]]:
    args = [{"name": "service-name"}, {"name": "version"}, {"name": "measurements"}]
    # A version that answers nothing but 5xx has no non-5xx series: `or on() vector(0)` makes that 0 (a failure),
    # where the bare ratio would be empty (inconclusive) and never abort. No requests at all stays empty or NaN.
    success = (
        f'(sum(rate(istio_requests_total{{{SELECTOR},response_code!~"5.."}}[2m])) or on() vector(0))'
        f" / sum(rate(istio_requests_total{{{SELECTOR}}}[2m]))"
    )
    latency = (
        f"histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{SELECTOR}}}[2m])))"
    )
    templates = {
        SUCCESS_RATE: _metric(
            SUCCESS_RATE, success, f"result[0] >= {MIN_SUCCESS_RATE}", f"result[0] < {MIN_SUCCESS_RATE}"
        ),
        LATENCY: _metric(LATENCY, latency, f"result[0] <= {MAX_P95_LATENCY_MS}", f"result[0] > {MAX_P95_LATENCY_MS}"),
    }
    return [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            # Before the Rollout that names them: a Rollout whose templates are missing is InvalidSpec.
            "metadata": {
                "name": name,
                "namespace": APP_NAMESPACE,
                "annotations": {"argocd.argoproj.io/sync-wave": "-1"},
            },
            "spec": {"args": args, "metrics": [metric]},
        }
        for name, metric in templates.items()
    ]


def virtual_service(api_port: int, websocket_port: int) -> dict[str, Any]:
    """What the ingress gateway routes: `/ws` to the websocket, the rest to the api's `primary` route."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": API, "namespace": APP_NAMESPACE},
        "spec": {
            "hosts": ["*"],
            "gateways": [GATEWAY],
            "http": [
                {
                    "name": "websocket",
                    # `/ws` and below, not `/wsx`.
                    "match": [{"uri": {"exact": WEBSOCKET_PATH}}, {"uri": {"prefix": f"{WEBSOCKET_PATH}/"}}],
                    "route": [{"destination": {"host": WEBSOCKET_HOST, "port": {"number": websocket_port}}}],
                },
                {
                    "name": PRIMARY_ROUTE,
                    "route": [
                        {
                            "destination": {"host": API_HOST, "subset": STABLE, "port": {"number": api_port}},
                            "weight": 100,
                        },
                        {
                            "destination": {"host": API_HOST, "subset": CANARY, "port": {"number": api_port}},
                            "weight": 0,
                        },
                    ],
                },
            ],
        },
    }


def destination_rules() -> list[dict[str, Any]]:
    """The api's two subsets (Rollouts fills in their pod-template-hash labels), and the websocket's stickiness."""
    return [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": API, "namespace": APP_NAMESPACE},
            "spec": {
                "host": API_HOST,
                "subsets": [{"name": CANARY, "labels": {"app": API}}, {"name": STABLE, "labels": {"app": API}}],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": WEBSOCKET, "namespace": APP_NAMESPACE},
            "spec": {
                "host": WEBSOCKET_HOST,
                "trafficPolicy": {
                    "loadBalancer": {
                        "consistentHash": {"httpCookie": {"name": STICKY_COOKIE, "path": "/", "ttl": "3600s"}}
                    }
                },
            },
        },
    ]
