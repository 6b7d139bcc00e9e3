"""What istiod's sidecar injector adds to a pod in this project's mesh, for the Pod Security checks.

A simulation of Istio 1.30.3's `sidecar` injection template (vendored: tests/data/istio/injection-template-1.30.3.yaml)
plus the injector's Go post-processing (pkg/kube/inject), reduced to what Pod Security evaluates: the injected
containers, where they go, their security contexts, ports and volume mounts, and the volumes. Not simulated: args,
env, probes, resources, lifecycle, labels and annotations (security.istio.io/tlsMode, sidecar.istio.io/status,
the prometheus.io/* rewrite...), the app probe rewrite, and the template's annotation-only features
(`sidecar.istio.io/userVolume` / `userVolumeMount`, `bootstrapOverride`, lightstep certificates).

Our configuration is the default of every keyword: `cni.enabled: true` (the chart's `pilot.cni.enabled`),
`global.proxy.seccompProfile: RuntimeDefault`, `global.proxy.privileged: false`, REDIRECT interception, and native
sidecars (`ENABLE_NATIVE_SIDECARS=auto` with every node on Kubernetes ≥1.33: pilot/pkg/features/pilot.go:331,
pkg/kube/inject/webhook.go:1235-1285). tests/test_istio_injection.py checks these defaults against
`components.kubernetes.platform.service_mesh.istiod_values()` and every branch against the template itself.

Citations: `T:N` is line N of the upstream template (line N+1 of the vendored copy, after its header);
`inject.go:N` / `webhook.go:N` are pkg/kube/inject at the same commit (istio/istio 56df41f6, tag 1.30.3).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

TEMPLATE = Path(__file__).parent / "data" / "istio" / "injection-template-1.30.3.yaml"

PROXY, VALIDATION, INIT = "istio-proxy", "istio-validation", "istio-init"
# GetProxyIDs (inject.go:949-967): 1337 (constants.DefaultProxyUIDInt) for both, unless the namespace carries
# OpenShift's UID-range annotations. The template's `.ProxyUID | default "1337"` / `.ProxyGID` (T:174-175, T:413-414).
PROXY_UID = PROXY_GID = 1337
PROXY_IMAGE = "docker.io/istio/proxyv2:1.31.1"  # `.ProxyImage` (T:90, T:191): global.hub/proxyv2:global.tag
RUNTIME_DEFAULT: Mapping[str, Any] = MappingProxyType({"type": "RuntimeDefault"})
GKE_CA = "GkeWorkloadCertificate"

# Lists a strategic merge patch merges item by item (their patchMergeKey in k8s.io/api core/v1); other lists are
# replaced. Only the container fields an `istio-proxy` override plausibly carries.
_MERGE_KEYS = {"ports": "containerPort", "env": "name", "volumeMounts": "mountPath"}


def inject(
    pod: Mapping[str, Any],
    *,
    cni: bool = True,
    native_sidecars: bool = True,
    privileged: bool = False,
    seccomp_profile: Mapping[str, Any] | None = RUNTIME_DEFAULT,
    interception_mode: str = "REDIRECT",
    cap_net_bind_service: bool = False,
    iptables_trace_logging: bool = False,
    ca_name: str = "",
    pilot_cert_provider: str = "istiod",
    cluster_trust_bundle: bool = False,
    mount_mtls_certs: bool = False,
    image: str = PROXY_IMAGE,
) -> dict[str, Any]:
    """A deep copy of `pod` (a pod spec: a pod template's `spec`) as the injection webhook admits it.

    Each keyword is the setting the template branches on, with our value as default:
    - `cni`: istiod chart `cni.enabled` (the template's `.Values.pilot.cni.enabled`);
    - `native_sidecars`: `.NativeSidecars` (ENABLE_NATIVE_SIDECARS and the nodes' kubelets), or the pod annotation
      `sidecar.istio.io/nativeSidecar` (T:29: anything but "false" means native);
    - `privileged`, `seccomp_profile`, `cap_net_bind_service`: `global.proxy.privileged`, `.seccompProfile`,
      `.capNetBindService` (the last one also the annotation `sidecar.istio.io/capNetBindService`, T:28);
    - `interception_mode`: meshConfig `defaultConfig.interceptionMode` or the annotation
      `sidecar.istio.io/interceptionMode` (REDIRECT, TPROXY or NONE; T:27);
    - `iptables_trace_logging`: proxy metadata `IPTABLES_TRACE_LOGGING: "true"` (T:379);
    - `ca_name`, `pilot_cert_provider`, `mount_mtls_certs`: `global.caName`, `.pilotCertProvider`, `.mountMtlsCerts`;
      `cluster_trust_bundle`: istiod `env.ENABLE_CLUSTER_TRUST_BUNDLE_API` (T:514). They only change volumes.
    """
    spec = copy.deepcopy(dict(pod))
    # The webhook skips host-network pods (injectRequired, inject.go:207-209).
    if spec.get("hostNetwork"):
        return spec
    tproxy = interception_mode == "TPROXY"
    containers = list(spec.get("containers") or [])
    init_containers = list(spec.get("initContainers") or [])

    # A pod may declare its own `istio-proxy` to customise the injected one. With native sidecars it is moved from
    # `containers` to `initContainers` first (inject.go:494-511); the template is merged onto it (inject.go:512),
    # then the pod's own fields are merged back on top, so they win (reapplyOverwrittenContainers,
    # webhook.go:497-589: containers :524-549, init containers :550-572).
    own_proxy = _take(containers, PROXY)
    if native_sidecars:
        own_proxy = _take(init_containers, PROXY) or own_proxy
    proxy = _proxy(
        native=native_sidecars,
        privileged=privileged,
        seccomp_profile=seccomp_profile,
        tproxy=tproxy,
        cap_net_bind_service=cap_net_bind_service,
        iptables_trace_logging=iptables_trace_logging,
        ca_name=ca_name,
        pilot_cert_provider=pilot_cert_provider,
        mount_mtls_certs=mount_mtls_certs,
        image=image,
    )
    if own_proxy is not None:
        proxy = _merge(proxy, {k: v for k, v in own_proxy.items() if not (k == "image" and v == "auto")})

    # No init container at all for interception mode NONE (T:81). T:74-79 write `initContainers: []` when NONE
    # without native sidecars; an empty list in a strategic merge patch leaves the pod's own init containers.
    first_init = None
    if interception_mode != "NONE":
        first_init = _init_container(
            cni=cni, privileged=privileged, seccomp_profile=seccomp_profile, tproxy=tproxy, image=image
        )
        if own_proxy is not None:
            _adjust_init_container_user(first_init, proxy, own_proxy, tproxy=tproxy)

    # Order (reorderPod, webhook.go:780-824). Native: the proxy is an init container right after
    # istio-init/istio-validation and before the pod's own init containers, "so init containers are part of the
    # mesh" (:805-812). Otherwise: istio-validation first, istio-init last among the init containers (:813-821), and
    # the proxy the last container (:796-804; first only with holdApplicationUntilProxyStarts, not modelled).
    if native_sidecars:
        spec["initContainers"] = [c for c in (first_init, proxy) if c is not None] + init_containers
        spec["containers"] = containers
    else:
        if first_init is None:
            spec["initContainers"] = init_containers
        elif first_init["name"] == VALIDATION:
            spec["initContainers"] = [first_init, *init_containers]
        else:
            spec["initContainers"] = [*init_containers, first_init]
        spec["containers"] = [*containers, proxy]
    if not spec["initContainers"]:
        del spec["initContainers"]

    # Volumes: the template's (T:472-551) come first, then the pod's others (the order a strategic merge patch
    # gives: patch items, then the original's; upstream's statefulset.yaml.injected). A pod volume with the same
    # name is merged under the template's (inject.go:512).
    own_volumes = {v["name"]: v for v in spec.get("volumes") or []}
    injected = _volumes(
        ca_name=ca_name,
        pilot_cert_provider=pilot_cert_provider,
        cluster_trust_bundle=cluster_trust_bundle,
        mount_mtls_certs=mount_mtls_certs,
        service_account=spec.get("serviceAccountName") or "",
    )
    spec["volumes"] = [_merge(own_volumes.pop(v["name"], {}), v) for v in injected] + list(own_volumes.values())
    # The pod's own `securityContext` (runAsUser, runAsGroup, fsGroup, seccompProfile...) is neither read nor
    # written: the template never mentions `.Spec.SecurityContext`, and the Go code neither (upstream's
    # explicit-security-context.yaml.injected keeps the pod's fsGroup 1234). The injected containers set
    # runAsUser/runAsGroup/runAsNonRoot themselves, so container-level values win over the pod's.
    return spec


def _security_context_tail(context: dict[str, Any], seccomp_profile: Mapping[str, Any] | None) -> dict[str, Any]:
    # T:178-181 (init container) and T:417-420 (proxy): `if .Values.global.proxy.seccompProfile` then `toYaml` of
    # it. An empty or absent profile emits nothing: the container inherits the pod's.
    if seccomp_profile:
        context["seccompProfile"] = dict(seccomp_profile)
    return context


def _init_container(
    *, cni: bool, privileged: bool, seccomp_profile: Mapping[str, Any] | None, tproxy: bool, image: str
) -> dict[str, Any]:
    """istio-validation (CNI: checks the redirection the CNI plugin set up, T:137-139) or istio-init (sets it up)."""
    context: dict[str, Any] = {
        # T:157-158: both from global.proxy.privileged.
        "allowPrivilegeEscalation": privileged,
        "privileged": privileged,
        # T:159-166: NET_ADMIN and NET_RAW only without the CNI (T:160).
        "capabilities": {"drop": ["ALL"]} if cni else {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
    }
    if cni:
        # T:172-176. TPROXY pins 1337 (T:174-175); otherwise ProxyGID/ProxyUID.
        context |= {
            "readOnlyRootFilesystem": True,
            "runAsGroup": 1337 if tproxy else PROXY_GID,
            "runAsUser": 1337 if tproxy else PROXY_UID,
            "runAsNonRoot": True,
        }
    else:
        # T:167-171: root, to write iptables rules.
        context |= {"readOnlyRootFilesystem": False, "runAsGroup": 0, "runAsNonRoot": False, "runAsUser": 0}
    return {
        "name": VALIDATION if cni else INIT,  # T:82-86
        "image": image,  # T:87-91
        "securityContext": _security_context_tail(context, seccomp_profile),
    }


def _proxy(
    *,
    native: bool,
    privileged: bool,
    seccomp_profile: Mapping[str, Any] | None,
    tproxy: bool,
    cap_net_bind_service: bool,
    iptables_trace_logging: bool,
    ca_name: str,
    pilot_cert_provider: str,
    mount_mtls_certs: bool,
    image: str,
) -> dict[str, Any]:
    context: dict[str, Any]
    if iptables_trace_logging:
        # T:379-390: privileged root with NET_ADMIN, whatever the other settings.
        context = {
            "allowPrivilegeEscalation": True,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            "privileged": True,
            "readOnlyRootFilesystem": True,
            "runAsGroup": PROXY_GID,
            "runAsNonRoot": False,
            "runAsUser": 0,
        }
    else:
        # T:392-406: privilege from global.proxy.privileged; capabilities added only for TPROXY (NET_ADMIN) and
        # capNetBindService (NET_BIND_SERVICE), T:394-402.
        added = (["NET_ADMIN"] if tproxy else []) + (["NET_BIND_SERVICE"] if cap_net_bind_service else [])
        context = {
            "allowPrivilegeEscalation": privileged,
            "capabilities": {"add": added, "drop": ["ALL"]} if added else {"drop": ["ALL"]},
            "privileged": privileged,
            "readOnlyRootFilesystem": True,
        }
        if tproxy or cap_net_bind_service:
            # T:407-410: either one makes the proxy root (group 1337, literally).
            context |= {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 1337}
        else:
            # T:411-414: the pod's runAsUser/runAsGroup do not matter; only a pod-declared `istio-proxy` does.
            context |= {"runAsNonRoot": True, "runAsUser": PROXY_UID, "runAsGroup": PROXY_GID}
    proxy: dict[str, Any] = {"name": PROXY, "image": image}  # T:187-192
    if native:
        # T:184-186 open `containers:` only without native sidecars: otherwise the proxy is the next item of
        # `initContainers`, and T:193 gives it `restartPolicy: Always`.
        proxy["restartPolicy"] = "Always"
    proxy["ports"] = [{"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"}]  # T:194-197; no hostPort
    proxy["securityContext"] = _security_context_tail(context, seccomp_profile)
    proxy["volumeMounts"] = _proxy_mounts(
        ca_name=ca_name, pilot_cert_provider=pilot_cert_provider, mount_mtls_certs=mount_mtls_certs
    )
    return proxy


def _proxy_mounts(*, ca_name: str, pilot_cert_provider: str, mount_mtls_certs: bool) -> list[dict[str, Any]]:
    # T:423-471.
    mounts: list[dict[str, Any]] = [
        {"name": "workload-socket", "mountPath": "/var/run/secrets/workload-spiffe-uds"},
        {"name": "credential-socket", "mountPath": "/var/run/secrets/credential-uds"},
    ]
    if ca_name == GKE_CA:  # T:428-435
        mounts.append(
            {"name": "gke-workload-certificate", "mountPath": "/var/run/secrets/workload-spiffe-credentials",
             "readOnly": True}
        )  # fmt: skip
    else:
        mounts.append({"name": "workload-certs", "mountPath": "/var/run/secrets/workload-spiffe-credentials"})
    if pilot_cert_provider == "istiod":  # T:436-441
        mounts += [
            {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
            {"mountPath": "/var/run/secrets/istio/crl", "name": "istio-ca-crl"},
        ]
    mounts += [
        {"mountPath": "/var/lib/istio/data", "name": "istio-data"},  # T:442-443
        {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},  # T:449-450
        {"mountPath": "/var/run/secrets/tokens", "name": "istio-token"},  # T:451-452
    ]
    if mount_mtls_certs:  # T:453-458
        mounts.append({"mountPath": "/etc/certs/", "name": "istio-certs", "readOnly": True})
    mounts.append({"name": "istio-podinfo", "mountPath": "/etc/istio/pod"})  # T:459-460
    return mounts


def _volumes(
    *, ca_name: str, pilot_cert_provider: str, cluster_trust_bundle: bool, mount_mtls_certs: bool, service_account: str
) -> list[dict[str, Any]]:
    # T:473-476 (and T:482-483) write `- emptyDir:` with no value: a volume without a source, which the API server
    # defaults to an emptyDir (SetDefaults_Volume) before admission; upstream's goldens show the bare name.
    volumes: list[dict[str, Any]] = [
        {"name": "workload-socket", "emptyDir": {}},
        {"name": "credential-socket", "emptyDir": {}},
    ]
    if ca_name == GKE_CA:  # T:477-480: an inline CSI volume (`restricted` allows csi)
        volumes.append(
            {"name": "gke-workload-certificate", "csi": {"driver": "workloadcertificates.security.cloud.google.com"}}
        )
    else:
        volumes.append({"name": "workload-certs", "emptyDir": {}})  # T:482-483
    volumes += [
        {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},  # T:491-493: the SDS channel
        {"name": "istio-data", "emptyDir": {}},  # T:494-495
        {
            "name": "istio-podinfo",
            "downwardAPI": {
                "items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                ]
            },
        },  # T:496-504
        {
            "name": "istio-token",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "istio-token", "expirationSeconds": 43200, "audience": "istio-ca"}}
                ]
            },
        },  # T:505-511 (audience: global.sds.token.aud, istio-ca by default)
    ]
    if pilot_cert_provider == "istiod":  # T:512-524
        if cluster_trust_bundle:
            source: dict[str, Any] = {
                "projected": {
                    "sources": [
                        {"clusterTrustBundle": {"name": "istio.io:istiod-ca:root-cert", "path": "root-cert.pem"}}
                    ]
                }
            }
        else:
            source = {"configMap": {"name": "istio-ca-root-cert"}}
        volumes.append({"name": "istiod-ca-cert", **source})
    volumes.append({"name": "istio-ca-crl", "configMap": {"name": "istio-ca-crl", "optional": True}})  # T:525-528
    if mount_mtls_certs:  # T:529-539
        secret = f"istio.{service_account}" if service_account else "istio.default"
        volumes.append({"name": "istio-certs", "secret": {"optional": True, "secretName": secret}})
    return volumes


def _adjust_init_container_user(
    init: dict[str, Any], proxy: dict[str, Any], own_proxy: Mapping[str, Any], *, tproxy: bool
) -> None:
    """adjustInitContainerUser (webhook.go:591-663), when the pod's own `istio-proxy` sets runAsUser/runAsGroup."""
    own = own_proxy.get("securityContext") or {}
    user, group = own.get("runAsUser"), own.get("runAsGroup")
    if user is None and group is None:
        return  # :601-604
    if tproxy and user is not None:
        proxy["securityContext"]["runAsUser"] = 0  # :628-637: TPROXY keeps the proxy root
    if not tproxy and init["name"] == VALIDATION:
        # :639-650: istio-validation runs as the proxy's user (istio-init stays root).
        context = init.setdefault("securityContext", {})
        if user is not None:
            context["runAsUser"] = user
        if group is not None:
            context["runAsGroup"] = group


def _take(containers: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for index, container in enumerate(containers):
        if container.get("name") == name:
            return containers.pop(index)
    return None


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`overlay` merged onto `base` as a strategic merge patch (the overlay) does for these objects: maps
    recursively, the lists of `_MERGE_KEYS` item by item (the overlay's items first, then the base's others, as
    upstream's goldens show for volumes), every other list replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(old, value)
        elif key in _MERGE_KEYS and isinstance(old, list) and isinstance(value, list):
            merge_key = _MERGE_KEYS[key]
            originals = {item.get(merge_key): item for item in old}
            merged[key] = [_merge(originals.pop(item.get(merge_key), {}), item) for item in value]
            merged[key] += list(originals.values())
        else:
            merged[key] = copy.deepcopy(value)
    return merged
