"""Configures the Amazon OpenSearch Service domain from inside the cluster.

A Kubernetes Job runs this file on the stock python:3.13-alpine image, where nothing can be installed, so it uses the
standard library only. The domain lives in the VPC and uses fine-grained access control whose master user is the IAM
role the Job's pod assumes through IRSA: the script trades the pod's projected service-account token for that role's
credentials (STS AssumeRoleWithWebIdentity) and signs every request to the domain with SigV4, service `es`.

What to configure is a plan, a JSON file mounted next to the script:

    {"steps": [{"method": "PUT", "path": "/_plugins/_security/api/roles/app", "body": {...}},
               {"ism_policy": "logs", "policy": {"description": ..., "default_state": ..., "states": [...]}}]}

A request step is sent as it is, so it has to be idempotent (the Job runs on every release). The ISM API refuses a
plain PUT over an existing policy, so an `ism_policy` step reads the stored policy first: it creates a missing one,
leaves alone one that already says what the plan says, and otherwise updates it under optimistic concurrency
(if_seq_no/if_primary_term). Any other answer of 300 or more stops the Job, naming the step, the status and the body.

Environment: SEARCH_ENDPOINT (https://; http:// only with SEARCH_ALLOW_HTTP=1, for tests), AWS_REGION, AWS_ROLE_ARN
and AWS_WEB_IDENTITY_TOKEN_FILE (the last three set by EKS's pod identity webhook), and optionally AWS_STS_ENDPOINT
(tests, or an STS interface endpoint's own DNS name). The plan's path is the first argument, by default
/etc/search-setup/plan.json. Credentials and the web identity token are never printed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

ALGORITHM = "AWS4-HMAC-SHA256"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
DEFAULT_PLAN = "/etc/search-setup/plan.json"
TIMEOUT_SECONDS = 30.0
# A new domain's VPC endpoint takes a while to resolve and answer; a Job that gave up at once would just be retried
# by Kubernetes with less to say about why.
RETRY_SECONDS = 600.0
ERROR_BODY_LIMIT = 2000
# What OpenSearch keeps up itself in a stored ISM policy: not the plan's to compare.
ISM_READ_ONLY = frozenset({"policy_id", "last_updated_time", "schema_version"})
REQUEST_METHODS = frozenset({"PUT", "POST", "DELETE"})

T = TypeVar("T")
Send = Callable[[str, str, bytes | None], tuple[int, bytes]]


class SetupError(Exception):
    """Stops the Job; the message is printed as it is, so it never holds a secret."""


class UnreachableError(SetupError):
    """No HTTP answer at all (DNS, connection, timeout): worth another try while the domain comes up."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(repr=False)


# -- SigV4 ------------------------------------------------------------------------------------------------------------


def _uri_encode(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def canonical_path(path: str) -> str:
    """The path as it is sent, each segment encoded once more: AWS's rule for every service but S3."""
    return "/".join(_uri_encode(segment) for segment in path.split("/")) if path else "/"


def canonical_query(query: str) -> str:
    # Decoded first so that an already-encoded query and a bare one sign alike; `unquote`, not `unquote_plus`,
    # because AWS reads '+' as itself.
    pairs = []
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            pairs.append((_uri_encode(urllib.parse.unquote(key)), _uri_encode(urllib.parse.unquote(value))))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign(
    method: str,
    url: str,
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    *,
    content_sha256_header: bool = True,
) -> dict[str, str]:
    """Every header the request must carry, `authorization` included, all of them signed.

    `content_sha256_header=False` leaves out x-amz-content-sha256, which only AWS's published examples need."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    parts = urllib.parse.urlsplit(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {"host": parts.netloc.lower(), "x-amz-date": stamp}
    if content_sha256_header:
        signed["x-amz-content-sha256"] = payload_hash
    if credentials.session_token is not None:
        signed["x-amz-security-token"] = credentials.session_token
    signed.update({name.strip().lower(): value for name, value in (headers or {}).items()})
    names = sorted(signed)
    signed_names = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            canonical_path(parts.path),
            canonical_query(parts.query),
            "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names),
            signed_names,
            payload_hash,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed_names}, Signature={signature}"
    )
    return {**signed, "authorization": authorization}


# -- STS --------------------------------------------------------------------------------------------------------------


def _one_line(text: str, limit: int = ERROR_BODY_LIMIT) -> str:
    return " ".join(text.split())[:limit]


def _connection_failure(what: str, error: BaseException) -> SetupError:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ssl.SSLCertVerificationError):
        # Waiting would not make an untrusted certificate trusted.
        return SetupError(f"{what}: TLS certificate not trusted: {_one_line(str(reason))}")
    return UnreachableError(f"{what} unreachable: {_one_line(str(reason)) or type(reason).__name__}")


def _sts_error(body: bytes) -> str:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return _one_line(body.decode(errors="replace"), 300)
    code = root.findtext(f"./{STS_NS}Error/{STS_NS}Code") or "unknown error"
    message = root.findtext(f"./{STS_NS}Error/{STS_NS}Message") or ""
    return _one_line(f"{code}: {message}" if message else code, 300)


def assume_role_with_web_identity(
    role_arn: str,
    token: str,
    region: str,
    session_name: str,
    opener: Callable[..., Any] = urllib.request.urlopen,
    sts_endpoint: str | None = None,
) -> Credentials:
    """The role's temporary credentials. The request is unsigned: the web identity token is what authenticates it."""
    query = urllib.parse.urlencode(
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "WebIdentityToken": token,
        },
        quote_via=urllib.parse.quote,
    )
    base = (sts_endpoint or f"https://sts.{region}.amazonaws.com").rstrip("/")
    what = f"STS AssumeRoleWithWebIdentity for {role_arn}"
    # `from None` below: a chained exception would carry the URL, and the URL carries the token.
    try:
        response = opener(urllib.request.Request(f"{base}/?{query}", method="GET"), timeout=TIMEOUT_SECONDS)
        try:
            body = response.read()
        finally:
            response.close()
    except urllib.error.HTTPError as error:
        detail = _sts_error(error.read())
        raise SetupError(
            f"{what} failed: HTTP {error.code}: {detail.replace(token, '<token>') if token else detail}"
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise _connection_failure(what, error) from None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise SetupError(f"{what}: the answer is not XML") from None
    found = root.find(f"./{STS_NS}AssumeRoleWithWebIdentityResult/{STS_NS}Credentials")
    values = {
        name: (found.findtext(f"{STS_NS}{name}") or "").strip() if found is not None else ""
        for name in ("AccessKeyId", "SecretAccessKey", "SessionToken")
    }
    if not all(values.values()):
        raise SetupError(f"{what}: the answer holds no credentials")
    return Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"])


# -- The plan ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestStep:
    method: str
    path: str
    body: Any


@dataclass(frozen=True)
class IsmPolicyStep:
    policy_id: str
    policy: Mapping[str, Any]


Step = RequestStep | IsmPolicyStep


def _valid_path(path: str) -> bool:
    # urllib sends the path as it is: it must already be percent-encoded ASCII.
    return path.startswith("/") and all(" " < c < "\x7f" for c in path)


def parse_plan(plan: Mapping[str, Any]) -> list[Step]:
    """The plan's steps, all checked before the first is sent, so a bad plan changes nothing."""
    steps = plan.get("steps") if isinstance(plan, Mapping) else None
    if not isinstance(steps, list):
        raise SetupError('the plan is not an object with a "steps" list')
    parsed: list[Step] = []
    for number, step in enumerate(steps, 1):
        if not isinstance(step, Mapping):
            raise SetupError(f"plan step {number} is not an object")
        if "ism_policy" in step:
            policy_id, policy = step["ism_policy"], step.get("policy")
            if set(step) != {"ism_policy", "policy"} or not isinstance(policy_id, str) or not policy_id:
                raise SetupError(f'plan step {number}: an ISM step has exactly "ism_policy" (a name) and "policy"')
            if not isinstance(policy, Mapping):
                raise SetupError(f'plan step {number}: "policy" is not an object')
            parsed.append(IsmPolicyStep(policy_id, policy))
            continue
        method, path = step.get("method"), step.get("path")
        if not set(step) <= {"method", "path", "body"} or method not in REQUEST_METHODS:
            raise SetupError(f'plan step {number}: a request step has "method" (PUT, POST or DELETE), "path", "body"')
        if not isinstance(path, str) or not _valid_path(path):
            raise SetupError(f"plan step {number}: the path is not an encoded absolute path: {path!r}")
        parsed.append(RequestStep(method, path, step.get("body")))
    return parsed


def _json_body(body: object) -> bytes | None:
    return None if body is None else json.dumps(body, sort_keys=True).encode()


def _check(number: int, method: str, path: str, status: int, body: bytes) -> None:
    if status >= 300:
        text = _one_line(body.decode(errors="replace"))
        raise SetupError(f"step {number} ({method} {path}) failed: HTTP {status}: {text}")


def _contains(stored: object, wanted: object) -> bool:
    """Whether the stored value says at least what the wanted one says. OpenSearch fills defaults into a stored
    policy (each action's `retry`, a rollover's `copy_alias`, each ISM template's `last_updated_time`), so equality
    would never hold; the price is that a key merely dropped from the plan goes unnoticed."""
    if isinstance(wanted, Mapping):
        return isinstance(stored, Mapping) and all(k in stored and _contains(stored[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(wanted)
            and all(_contains(s, w) for s, w in zip(stored, wanted, strict=True))
        )
    return stored == wanted


def same_policy(wanted: Mapping[str, Any], stored: object) -> bool:
    if not isinstance(stored, Mapping):
        return False
    for key, value in wanted.items():
        if key in ISM_READ_ONLY:
            continue
        # OpenSearch takes a single ISM template and stores a list of them.
        expected = [value] if key == "ism_template" and isinstance(value, Mapping) else value
        if not _contains(stored.get(key), expected):
            return False
    return True


def _apply_ism_policy(number: int, step: IsmPolicyStep, send: Send, log: Callable[[str], None]) -> None:
    path = f"/_plugins/_ism/policies/{urllib.parse.quote(step.policy_id, safe='')}"
    status, raw = send("GET", path, None)
    if status == 404:
        put_path, outcome = path, "created"
    elif status == 200:
        try:
            stored = json.loads(raw)
            seq_no, primary_term = stored["_seq_no"], stored["_primary_term"]
        except (ValueError, TypeError, KeyError):
            raise SetupError(f"step {number} (GET {path}): not an ISM policy document") from None
        if same_policy(step.policy, stored.get("policy")):
            log(f"GET {path} -> 200 (unchanged)")
            return
        if not (isinstance(seq_no, int) and isinstance(primary_term, int)):
            raise SetupError(f"step {number} (GET {path}): _seq_no and _primary_term are not numbers")
        put_path, outcome = f"{path}?if_seq_no={seq_no}&if_primary_term={primary_term}", "updated"
    else:
        _check(number, "GET", path, status, raw)
        raise SetupError(f"step {number} (GET {path}) failed: unexpected HTTP {status}")
    status, raw = send("PUT", put_path, _json_body({"policy": step.policy}))
    _check(number, "PUT", put_path, status, raw)
    log(f"PUT {put_path} -> {status} ({outcome})")


def run(plan: Mapping[str, Any], endpoint: str, send: Send, log: Callable[[str], None]) -> None:
    """Applies the plan's steps in order through `send(method, path_with_query, body)`."""
    steps = parse_plan(plan)
    log(f"{endpoint}: {len(steps)} steps")
    for number, step in enumerate(steps, 1):
        if isinstance(step, IsmPolicyStep):
            _apply_ism_policy(number, step, send, log)
            continue
        status, body = send(step.method, step.path, _json_body(step.body))
        _check(number, step.method, step.path, status, body)
        log(f"{step.method} {step.path} -> {status}")


# -- The Job ----------------------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the session token to wherever it points; it is reported as the error it is here."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def retrying(
    action: Callable[[], T],
    log: Callable[[str], None],
    *,
    give_up_at: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`action()`, tried again with growing pauses while it finds nobody to answer, until `give_up_at`."""
    delay = 2.0
    while True:
        try:
            return action()
        except UnreachableError as error:
            if clock() + delay > give_up_at:
                raise
            log(f"{error}; trying again in {delay:.0f}s")
            sleep(delay)
            delay = min(delay * 2, 30.0)


def _environment(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SetupError(f"{name} is not set")
    return value


def _base_url(name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    schemes = {"https", "http"} if os.environ.get("SEARCH_ALLOW_HTTP") == "1" else {"https"}
    if parts.scheme not in schemes or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise SetupError(f"{name} is not an {' or '.join(sorted(schemes))} URL without a path: {value}")
    return f"{parts.scheme}://{parts.netloc}"


def _read_token(path: str) -> str:
    # Read again on every attempt: the kubelet rotates the projected token.
    try:
        with open(path, encoding="utf-8") as file:
            token = file.read().strip()
    except OSError as error:
        raise SetupError(f"cannot read the web identity token {path}: {error.strerror}") from None
    if not token:
        raise SetupError(f"the web identity token {path} is empty")
    return token


def _load_plan(path: str) -> Mapping[str, Any]:
    try:
        with open(path, encoding="utf-8") as file:
            plan = json.load(file)
    except OSError as error:
        raise SetupError(f"cannot read the plan {path}: {error.strerror}") from None
    except ValueError as error:
        raise SetupError(f"the plan {path} is not JSON: {error}") from None
    if not isinstance(plan, Mapping):
        raise SetupError(f"the plan {path} is not a JSON object")
    return plan


def _log(message: str) -> None:
    print(message, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    secrets: list[str] = []

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def log(message: str) -> None:
        _log(scrub(message))

    try:
        endpoint = _base_url("SEARCH_ENDPOINT", _environment("SEARCH_ENDPOINT"))
        region = _environment("AWS_REGION")
        role_arn = _environment("AWS_ROLE_ARN")
        token_file = _environment("AWS_WEB_IDENTITY_TOKEN_FILE")
        sts_endpoint = os.environ.get("AWS_STS_ENDPOINT", "").strip() or None
        if sts_endpoint is not None:
            sts_endpoint = _base_url("AWS_STS_ENDPOINT", sts_endpoint)
        plan = _load_plan(args[0] if args else DEFAULT_PLAN)
        parse_plan(plan)
        give_up_at = time.monotonic() + RETRY_SECONDS
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ssl.create_default_context()), _NoRedirect()
        )

        def assume() -> Credentials:
            token = _read_token(token_file)
            secrets.append(token)
            session = f"search-setup-{int(time.time())}"
            return assume_role_with_web_identity(role_arn, token, region, session, opener.open, sts_endpoint)

        credentials = retrying(assume, log, give_up_at=give_up_at)
        secrets.extend(s for s in (credentials.secret_key, credentials.session_token) if s)

        def attempt(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
            url = endpoint + path
            headers = sign(
                method,
                url,
                body or b"",
                credentials,
                region,
                "es",
                datetime.now(UTC),
                {"content-type": "application/json"},
            )
            request = urllib.request.Request(url, data=body, headers=headers, method=method)
            try:
                with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                    return int(response.status), bytes(response.read())
            except urllib.error.HTTPError as error:
                # AWS's signature errors quote the canonical request, session token included.
                return error.code, scrub(error.read().decode(errors="replace")).encode()
            except (OSError, http.client.HTTPException) as error:
                raise _connection_failure(f"{method} {endpoint}{path}", error) from None

        def send(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
            return retrying(lambda: attempt(method, path, body), log, give_up_at=give_up_at)

        run(plan, endpoint, send, log)
    except SetupError as error:
        print(f"search-setup: {scrub(str(error))}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
