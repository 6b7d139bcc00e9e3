"""The search domain's setup script (components/kubernetes/app/search_setup_script.py): SigV4 against AWS's
published vectors, the STS exchange against a fake opener, the plan against a fake domain, and `main` end to end
against local HTTP servers standing in for STS and the domain."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.kubernetes.app import search_setup_script as script
from components.kubernetes.app.search_setup_script import Credentials, SetupError

# -- SigV4 ------------------------------------------------------------------------------------------------------------

EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
EXAMPLE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SUITE_SCOPE = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The session token of the suite's post-sts-header-* cases.
SUITE_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx"
    "7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY"
    "9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
)


def test_aws_general_references_iam_example() -> None:
    """AWS General Reference, "Examples of the complete Signature Version 4 signing process" (IAM ListUsers):
    content-type, host and x-amz-date signed, no x-amz-content-sha256."""
    headers = script.sign(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        b"",
        EXAMPLE,
        "us-east-1",
        "iam",
        EXAMPLE_TIME,
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        content_sha256_header=False,
    )
    assert headers == {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": "iam.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    }


# AWS's "Signature Version 4 test suite" (aws-sig-v4-test-suite, linked from the AWS General Reference), as vendored
# by the AWS SDK for JavaScript v3 (@aws-sdk/signature-v4, suite.fixture): region us-east-1, service "service",
# 20150830T123600Z, host example.amazonaws.com. Its requests sign no x-amz-content-sha256.
SUITE = [
    (
        "get-vanilla",
        "GET",
        "/",
        {},
        b"",
        None,
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "/?Param2=value2&Param1=value1",
        {},
        b"",
        None,
        "host;x-amz-date",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-vanilla-query-unreserved",
        "GET",
        f"/?{UNRESERVED}={UNRESERVED}",
        {},
        b"",
        None,
        "host;x-amz-date",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    ),
    (
        "get-vanilla-utf8-query",
        "GET",
        "/?%E1%88%B4=bar",
        {},
        b"",
        None,
        "host;x-amz-date",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    (
        "get-unreserved",
        "GET",
        f"/{UNRESERVED}",
        {},
        b"",
        None,
        "host;x-amz-date",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-utf8",
        "GET",
        "/ሴ",
        {},
        b"",
        None,
        "host;x-amz-date",
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
    (
        "get-header-value-trim",
        "GET",
        "/",
        {"My-Header1": " value1", "My-Header2": '"a   b   c"'},
        b"",
        None,
        "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    (
        "post-x-www-form-urlencoded",
        "POST",
        "/",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"Param1=value1",
        None,
        "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    ),
    (
        "post-sts-header-before",
        "POST",
        "/",
        {},
        b"",
        SUITE_TOKEN,
        "host;x-amz-date;x-amz-security-token",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "token", "signed", "signature"),
    [case[1:] for case in SUITE],
    ids=[case[0] for case in SUITE],
)
def test_aws_signature_v4_test_suite(
    method: str, path: str, headers: dict[str, str], body: bytes, token: str | None, signed: str, signature: str
) -> None:
    credentials = Credentials(EXAMPLE.access_key, EXAMPLE.secret_key, token)
    result = script.sign(
        method,
        f"https://example.amazonaws.com{path}",
        body,
        credentials,
        "us-east-1",
        "service",
        EXAMPLE_TIME,
        headers,
        content_sha256_header=False,
    )
    assert result["authorization"] == f"{SUITE_SCOPE}, SignedHeaders={signed}, Signature={signature}"
    assert result["x-amz-date"] == "20150830T123600Z" and result["host"] == "example.amazonaws.com"
    assert result.get("x-amz-security-token") == token


def test_es_requests_sign_the_payload_hash_and_the_session_token() -> None:
    credentials = Credentials("ASIAEXAMPLE", "secret", "session-token")
    body = b'{"a": 1}'
    headers = script.sign(
        "PUT",
        "https://vpc-x.eu-west-1.es.amazonaws.com/_plugins/_ism/policies/logs?if_seq_no=7&if_primary_term=2",
        body,
        credentials,
        "eu-west-1",
        "es",
        EXAMPLE_TIME,
        {"content-type": "application/json"},
    )
    assert headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert headers["x-amz-security-token"] == "session-token"
    assert headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20150830/eu-west-1/es/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="
    )
    other = script.sign(
        "PUT", "https://vpc-x.eu-west-1.es.amazonaws.com/x", b"{}", credentials, "eu-west-1", "es", EXAMPLE_TIME
    )
    assert (
        other["authorization"]
        != script.sign(
            "PUT", "https://vpc-x.eu-west-1.es.amazonaws.com/x", b"[]", credentials, "eu-west-1", "es", EXAMPLE_TIME
        )["authorization"]
    )


def test_canonical_forms() -> None:
    # A non-S3 path is encoded once more as it is sent, so an encoded '/' stays distinct from a separator.
    assert script.canonical_path("/a b/c%2Fd/~x") == "/a%20b/c%252Fd/~x"
    assert script.canonical_path("") == "/"
    assert script.canonical_query("b=2&a=y z&a=x&c") == "a=x&a=y%20z&b=2&c="
    assert script.canonical_query("k=a%20b+c") == "k=a%20b%2Bc"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        script.sign(
            "GET", "https://example.amazonaws.com/", b"", EXAMPLE, "us-east-1", "service", datetime(2015, 8, 30)
        )


@settings(max_examples=50, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6, unique_by=lambda p: p[0]),
    data=st.data(),
)
def test_the_query_order_and_its_encoding_do_not_change_the_signature(pairs: list[tuple[str, str]], data: Any) -> None:
    shuffled = data.draw(st.permutations(pairs))

    def signed(query: str) -> str:
        url = f"https://example.amazonaws.com/?{query}"
        return script.sign("GET", url, b"", EXAMPLE, "us-east-1", "service", EXAMPLE_TIME)["authorization"]

    assert signed(urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)) == signed(
        urllib.parse.urlencode(shuffled, quote_via=urllib.parse.quote, safe="!*'()")
    )
    canonical = script.canonical_query(urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote))
    assert set(canonical) <= set(UNRESERVED + "%=&")


def test_matches_botocore_when_it_is_importable() -> None:
    """A cross-check against AWS's own Python signer where botocore is importable (moto brings it into the dev
    environment today); nothing else here depends on it."""
    auth = pytest.importorskip("botocore.auth")
    awsrequest = pytest.importorskip("botocore.awsrequest")
    botocore_credentials = pytest.importorskip("botocore.credentials")
    url = "https://vpc-x.eu-west-1.es.amazonaws.com/_plugins/_ism/policies/logs?if_seq_no=7&if_primary_term=2"
    body = b'{"policy": {}}'
    ours = script.sign(
        "PUT",
        url,
        body,
        Credentials("AKIDEXAMPLE", EXAMPLE.secret_key, "tok"),
        "eu-west-1",
        "es",
        EXAMPLE_TIME,
        {"content-type": "application/json"},
    )
    # botocore's add_auth reads the clock itself, so its steps are taken one by one with the example's time.
    signer = auth.SigV4Auth(
        botocore_credentials.Credentials("AKIDEXAMPLE", EXAMPLE.secret_key, "tok"), "es", "eu-west-1"
    )
    headers = {"content-type": "application/json", "X-Amz-Content-SHA256": ours["x-amz-content-sha256"]}
    request = awsrequest.AWSRequest(method="PUT", url=url, data=body, headers=headers)
    request.context["timestamp"] = "20150830T123600Z"
    signer._modify_request_before_signing(request)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    assert ours["authorization"].endswith(f"Signature={signer.signature(string_to_sign, request)}")


# -- STS --------------------------------------------------------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/philosophy-staging-search-setup"
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkVYQU1QTEUifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln"
STS_KEY, STS_SECRET = "ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
STS_SESSION_TOKEN = "IQoJb3JpZ2luX2VjEHoaCWV1LXdlc3QtMSJHMEUCIQDEXAMPLEsessiontoken/+=="
STS_RESPONSE = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:search:search-setup</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/philosophy-staging-search-setup/search-setup-1</Arn>
      <AssumedRoleId>AROAEXAMPLEID:search-setup-1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>{STS_SESSION_TOKEN}</SessionToken>
      <SecretAccessKey>{STS_SECRET}</SecretAccessKey>
      <Expiration>2025-06-01T13:00:00Z</Expiration>
      <AccessKeyId>{STS_KEY}</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
""".encode()
STS_ERROR = f"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>Token {WEB_IDENTITY_TOKEN} is not valid
      for this provider</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>
""".encode()


class FakeOpener:
    def __init__(self, answer: bytes | BaseException) -> None:
        self.answer = answer
        self.requests: list[tuple[urllib.request.Request, float]] = []

    def __call__(self, request: urllib.request.Request, *, timeout: float) -> io.BytesIO:
        self.requests.append((request, timeout))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return io.BytesIO(self.answer)


def test_the_sts_answer_becomes_credentials() -> None:
    opener = FakeOpener(STS_RESPONSE)
    credentials = script.assume_role_with_web_identity(ROLE_ARN, WEB_IDENTITY_TOKEN, "eu-west-1", "setup-1", opener)
    assert credentials == Credentials(STS_KEY, STS_SECRET, STS_SESSION_TOKEN)
    assert STS_SECRET not in repr(credentials) and STS_SESSION_TOKEN not in repr(credentials)
    [(request, timeout)] = opener.requests
    url = urllib.parse.urlsplit(request.full_url)
    assert (url.scheme, url.netloc, url.path, request.get_method()) == (
        "https",
        "sts.eu-west-1.amazonaws.com",
        "/",
        "GET",
    )
    assert urllib.parse.parse_qs(url.query) == {
        "Action": ["AssumeRoleWithWebIdentity"],
        "Version": ["2011-06-15"],
        "RoleArn": [ROLE_ARN],
        "RoleSessionName": ["setup-1"],
        "WebIdentityToken": [WEB_IDENTITY_TOKEN],
    }
    # Unsigned, as AWS documents for this action: the token is the proof.
    assert not request.has_header("Authorization") and request.data is None and timeout == 30


def test_an_sts_endpoint_can_be_given() -> None:
    opener = FakeOpener(STS_RESPONSE)
    script.assume_role_with_web_identity(ROLE_ARN, "t", "eu-west-1", "s", opener, "https://sts.internal.example/")
    assert opener.requests[0][0].full_url.startswith("https://sts.internal.example/?Action=AssumeRoleWithWebIdentity&")


def test_an_sts_refusal_is_one_line_without_the_token() -> None:
    url = f"https://sts.eu-west-1.amazonaws.com/?WebIdentityToken={WEB_IDENTITY_TOKEN}"
    refusal = urllib.error.HTTPError(url, 400, "Bad Request", Message(), io.BytesIO(STS_ERROR))
    with pytest.raises(SetupError) as raised:
        script.assume_role_with_web_identity(ROLE_ARN, WEB_IDENTITY_TOKEN, "eu-west-1", "s", FakeOpener(refusal))
    message = str(raised.value)
    assert "HTTP 400" in message and "InvalidIdentityToken" in message and ROLE_ARN in message
    assert WEB_IDENTITY_TOKEN not in message and "\n" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert not isinstance(raised.value, script.UnreachableError)


def test_sts_failures_without_an_answer_can_be_retried_and_odd_answers_cannot() -> None:
    down = urllib.error.URLError(socket.gaierror(-2, "Name does not resolve"))
    with pytest.raises(script.UnreachableError, match=r"STS AssumeRoleWithWebIdentity .* unreachable: .*resolve"):
        script.assume_role_with_web_identity(ROLE_ARN, "t", "eu-west-1", "s", FakeOpener(down))
    for answer in (
        b"<html>",
        b'<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"/>',
    ):
        with pytest.raises(SetupError) as raised:
            script.assume_role_with_web_identity(ROLE_ARN, "t", "eu-west-1", "s", FakeOpener(answer))
        assert not isinstance(raised.value, script.UnreachableError)


# -- The plan ---------------------------------------------------------------------------------------------------------

POLICY: dict[str, Any] = {
    "description": "Application logs: 30 days, then gone",
    "default_state": "hot",
    "states": [
        {
            "name": "hot",
            "actions": [{"rollover": {"min_index_age": "1d"}}],
            "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ],
    "ism_template": {"index_patterns": ["logs-*"], "priority": 100},
}


def stored(policy: dict[str, Any], seq_no: int = 7, primary_term: int = 2) -> bytes:
    """What GET _plugins/_ism/policies/<id> answers for `policy`: OpenSearch's bookkeeping and defaults added."""
    states = [
        {
            **state,
            "actions": [
                {"retry": {"count": 3, "backoff": "exponential", "delay": "1m"}}
                | {k: ({**v, "copy_alias": False} if k == "rollover" else v) for k, v in action.items()}
                for action in state["actions"]
            ],
        }
        for state in policy["states"]
    ]
    template = policy["ism_template"]
    return json.dumps(
        {
            "_id": "logs",
            "_version": 3,
            "_seq_no": seq_no,
            "_primary_term": primary_term,
            "policy": {
                "policy_id": "logs",
                "description": policy["description"],
                "last_updated_time": 1717245296201,
                "schema_version": 21,
                "error_notification": None,
                "default_state": policy["default_state"],
                "states": states,
                "ism_template": [{**template, "last_updated_time": 1717245296201}],
            },
        }
    ).encode()


class FakeDomain:
    def __init__(self, answers: dict[tuple[str, str], tuple[int, bytes]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any]] = []
        self.log: list[str] = []

    def send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        self.calls.append((method, path, None if body is None else json.loads(body)))
        return self.answers.get((method, path), (200, b'{"acknowledged":true}'))

    def run(self, steps: list[dict[str, Any]]) -> None:
        script.run({"steps": steps}, "https://vpc-x.eu-west-1.es.amazonaws.com", self.send, self.log.append)


ROLE = {"cluster_permissions": ["cluster_monitor"], "index_permissions": []}
ISM = "/_plugins/_ism/policies/logs"


def test_request_steps_run_in_order_with_json_bodies() -> None:
    domain = FakeDomain({("PUT", "/_plugins/_security/api/rolesmapping/app"): (201, b"{}")})
    domain.run(
        [
            {"method": "PUT", "path": "/_plugins/_security/api/roles/app", "body": ROLE},
            {"method": "PUT", "path": "/_plugins/_security/api/rolesmapping/app", "body": {"backend_roles": ["arn"]}},
            {"method": "DELETE", "path": "/old-index"},
        ]
    )
    assert domain.calls == [
        ("PUT", "/_plugins/_security/api/roles/app", ROLE),
        ("PUT", "/_plugins/_security/api/rolesmapping/app", {"backend_roles": ["arn"]}),
        ("DELETE", "/old-index", None),
    ]
    assert domain.log[1:] == [
        "PUT /_plugins/_security/api/roles/app -> 200",
        "PUT /_plugins/_security/api/rolesmapping/app -> 201",
        "DELETE /old-index -> 200",
    ]


def test_bodies_are_sent_with_sorted_keys() -> None:
    sent: list[bytes | None] = []

    def send(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        sent.append(body)
        return 200, b""

    script.run({"steps": [{"method": "POST", "path": "/x", "body": {"b": 1, "a": [2]}}]}, "e", send, lambda _: None)
    assert sent == [b'{"a": [2], "b": 1}']


def test_a_missing_ism_policy_is_created() -> None:
    domain = FakeDomain({("GET", ISM): (404, b'{"status":404}'), ("PUT", ISM): (201, b"{}")})
    domain.run([{"ism_policy": "logs", "policy": POLICY}])
    assert domain.calls == [("GET", ISM, None), ("PUT", ISM, {"policy": POLICY})]
    assert domain.log[-1] == f"PUT {ISM} -> 201 (created)"


def test_an_ism_policy_that_already_says_the_same_is_left_alone() -> None:
    domain = FakeDomain({("GET", ISM): (200, stored(POLICY))})
    domain.run([{"ism_policy": "logs", "policy": POLICY}])
    assert domain.calls == [("GET", ISM, None)]
    assert domain.log[-1] == f"GET {ISM} -> 200 (unchanged)"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["states"][0]["transitions"][0]["conditions"].update(min_index_age="90d"),
        lambda p: p.update(description="Application logs: 90 days"),
        lambda p: p["ism_template"].update(priority=50),
        lambda p: p["states"].pop(),
        lambda p: p["states"][1]["actions"].append({"read_only": {}}),
        lambda p: p.update(error_notification={"destination": {"slack": {"url": "https://hooks.example"}}}),
    ],
    ids=["condition", "description", "template", "state-removed", "action-added", "error-notification"],
)
def test_a_different_ism_policy_is_updated_under_its_sequence_number(change: Any) -> None:
    wanted = json.loads(json.dumps(POLICY))
    change(wanted)
    domain = FakeDomain({("GET", ISM): (200, stored(POLICY, seq_no=12, primary_term=3))})
    domain.run([{"ism_policy": "logs", "policy": wanted}])
    update = f"{ISM}?if_seq_no=12&if_primary_term=3"
    assert domain.calls == [("GET", ISM, None), ("PUT", update, {"policy": wanted})]
    assert domain.log[-1] == f"PUT {update} -> 200 (updated)"


def test_a_refusal_stops_the_plan_naming_the_step_the_status_and_the_body() -> None:
    body = json.dumps(
        {"error": {"reason": "no permissions for [cluster:admin/opendistro/security]"}, "pad": "x" * 5000}
    )
    domain = FakeDomain({("PUT", "/_plugins/_security/api/roles/app"): (403, body.encode())})
    with pytest.raises(SetupError) as raised:
        domain.run(
            [
                {"method": "PUT", "path": "/_plugins/_security/api/roles/app", "body": ROLE},
                {"method": "PUT", "path": "/never"},
            ]
        )
    message = str(raised.value)
    assert message.startswith("step 1 (PUT /_plugins/_security/api/roles/app) failed: HTTP 403: {")
    assert "no permissions for [cluster:admin/opendistro/security]" in message
    assert message.endswith(body[:2000]) and len(message) < 2100
    assert [c[1] for c in domain.calls] == ["/_plugins/_security/api/roles/app"]


def test_an_ism_read_refused_stops_the_plan() -> None:
    domain = FakeDomain({("GET", ISM): (403, b"denied")})
    with pytest.raises(SetupError, match=f"step 1 \\(GET {ISM}\\) failed: HTTP 403: denied"):
        domain.run([{"ism_policy": "logs", "policy": POLICY}])


@pytest.mark.parametrize("plan", [{}, {"steps": {}}, {"steps": None}])
def test_a_plan_without_a_list_of_steps_is_refused(plan: dict[str, Any]) -> None:
    domain = FakeDomain({})
    with pytest.raises(SetupError, match='"steps" list'):
        script.run(plan, "e", domain.send, domain.log.append)
    assert domain.calls == []


@pytest.mark.parametrize(
    "step",
    [
        "PUT /x",
        {"method": "GET", "path": "/x"},
        {"method": "PUT", "path": "x"},
        {"method": "PUT", "path": "/a b"},
        {"method": "PUT", "path": "/é"},
        {"method": "PUT", "path": "/x", "bdy": {}},
        {"ism_policy": "", "policy": {}},
        {"ism_policy": "logs", "policy": []},
        {"ism_policy": "logs", "policy": {}, "method": "PUT"},
    ],
)
def test_a_bad_step_anywhere_sends_nothing(step: Any) -> None:
    domain = FakeDomain({})
    with pytest.raises(SetupError, match="plan step 2"):
        domain.run([{"method": "PUT", "path": "/first"}, step])
    assert domain.calls == []


@settings(max_examples=50, deadline=None)
@given(extra=st.dictionaries(st.sampled_from(["retry", "copy_alias", "last_updated_time"]), st.integers(), max_size=3))
def test_defaults_opensearch_adds_never_make_a_policy_differ(extra: dict[str, int]) -> None:
    stored_policy = json.loads(json.dumps(POLICY))
    stored_policy["ism_template"] = [{**stored_policy["ism_template"], **extra}]
    for state in stored_policy["states"]:
        state.update(extra)
        for action in state["actions"]:
            action.update(extra)
    assert script.same_policy(POLICY, stored_policy | {"policy_id": "logs", "schema_version": 21})


# -- Retrying ---------------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_unreachable_is_retried_with_growing_pauses_until_the_deadline() -> None:
    clock, log = Clock(), list[str]()
    attempts = iter([script.UnreachableError("down")] * 7)

    def action() -> str:
        error = next(attempts, None)
        if error:
            raise error
        return "up"

    assert script.retrying(action, log.append, give_up_at=600, clock=clock, sleep=clock.sleep) == "up"
    assert clock.sleeps == [2, 4, 8, 16, 30, 30, 30]
    clock, attempts = Clock(), iter([script.UnreachableError("down")] * 1000)
    with pytest.raises(script.UnreachableError):
        script.retrying(action, log.append, give_up_at=100, clock=clock, sleep=clock.sleep)
    assert sum(clock.sleeps) <= 100 and log[0] == "down; trying again in 2s"


def test_other_errors_are_not_retried() -> None:
    clock, calls = Clock(), []

    def action() -> None:
        calls.append(1)
        raise SetupError("HTTP 403")

    with pytest.raises(SetupError):
        script.retrying(action, print, give_up_at=600, clock=clock, sleep=clock.sleep)
    assert calls == [1] and clock.sleeps == []


def test_an_untrusted_certificate_is_not_worth_waiting_for() -> None:
    error = urllib.error.URLError(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    assert not isinstance(script._connection_failure("GET x", error), script.UnreachableError)
    assert isinstance(
        script._connection_failure("GET x", urllib.error.URLError(TimeoutError())), script.UnreachableError
    )


# -- main, end to end -------------------------------------------------------------------------------------------------


class Server:
    """A local HTTP server answering with `answer(method, path, body)` and keeping every request it saw."""

    def __init__(self, answer: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                status, payload = answer(self.command, self.path, body)
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sts() -> Iterator[Server]:
    server = Server(lambda method, path, body: (200, STS_RESPONSE))
    yield server
    server.close()


@pytest.fixture
def job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sts: Server) -> Path:
    """The Job's environment, less SEARCH_ENDPOINT; returns the plan's path."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    token = tmp_path / "token"
    token.write_text(WEB_IDENTITY_TOKEN + "\n")
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "steps": [
                    {"method": "PUT", "path": "/_plugins/_security/api/roles/app", "body": ROLE},
                    {"ism_policy": "logs", "policy": POLICY},
                ]
            }
        )
    )
    monkeypatch.setenv("SEARCH_ALLOW_HTTP", "1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_STS_ENDPOINT", sts.url)
    return plan


def test_main_applies_the_plan_with_signed_requests(
    job: Path, sts: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        return (404, b"{}") if method == "GET" else (200, b"{}")

    domain = Server(answer)
    try:
        monkeypatch.setenv("SEARCH_ENDPOINT", domain.url + "/")
        assert script.main([str(job)]) == 0
    finally:
        domain.close()
    [exchange] = sts.requests
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(exchange["path"]).query)
    assert query["RoleArn"] == [ROLE_ARN] and query["WebIdentityToken"] == [WEB_IDENTITY_TOKEN]
    assert "authorization" not in exchange["headers"]
    assert [(r["method"], r["path"]) for r in domain.requests] == [
        ("PUT", "/_plugins/_security/api/roles/app"),
        ("GET", ISM),
        ("PUT", ISM),
    ]
    credentials = Credentials(STS_KEY, STS_SECRET, STS_SESSION_TOKEN)
    for request in domain.requests:
        headers = request["headers"]
        date = headers["x-amz-date"]
        assert headers["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={STS_KEY}/{date[:8]}/eu-west-1/es/aws4_request, "
        )
        assert headers["x-amz-security-token"] == STS_SESSION_TOKEN
        assert headers["content-type"] == "application/json"
        # What arrived is what was signed: host, path, body and all.
        resigned = script.sign(
            request["method"],
            f"http://{headers['host']}{request['path']}",
            request["body"],
            credentials,
            "eu-west-1",
            "es",
            datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
            {"content-type": headers["content-type"]},
        )
        assert headers["authorization"] == resigned["authorization"]
    assert json.loads(domain.requests[0]["body"]) == ROLE
    out, err = capsys.readouterr()
    assert err == ""
    assert f"PUT {ISM} -> 200 (created)" in out
    for secret in (WEB_IDENTITY_TOKEN, STS_SECRET, STS_SESSION_TOKEN):
        assert secret not in out


def test_main_fails_in_one_line_when_the_domain_refuses(
    job: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # AWS's signature errors quote the canonical request, the session token in it.
    refusal = json.dumps({"message": f"Signature mismatch.\nx-amz-security-token:{STS_SESSION_TOKEN}\n"}).encode()
    domain = Server(lambda method, path, body: (403, refusal))
    try:
        monkeypatch.setenv("SEARCH_ENDPOINT", domain.url)
        assert script.main([str(job)]) == 1
    finally:
        domain.close()
    assert len(domain.requests) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert err.startswith("search-setup: step 1 (PUT /_plugins/_security/api/roles/app) failed: HTTP 403: ")
    assert "<redacted>" in err
    for secret in (WEB_IDENTITY_TOKEN, STS_SECRET, STS_SESSION_TOKEN):
        assert secret not in out + err


def test_main_gives_up_on_a_domain_that_never_answers(
    job: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SEARCH_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(script, "RETRY_SECONDS", 0.0)
    assert script.main([str(job)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"search-setup: PUT http://127.0.0.1:{port}/_plugins/_security/api/roles/app unreachable")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SEARCH_ENDPOINT", "http://vpc-x.eu-west-1.es.amazonaws.com", "SEARCH_ENDPOINT is not an https URL"),
        ("SEARCH_ENDPOINT", "https://vpc-x.eu-west-1.es.amazonaws.com/path", "SEARCH_ENDPOINT is not an https URL"),
        ("AWS_REGION", "", "AWS_REGION is not set"),
    ],
)
def test_main_refuses_a_bad_environment(
    job: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("SEARCH_ENDPOINT", "https://vpc-x.eu-west-1.es.amazonaws.com")
    monkeypatch.delenv("SEARCH_ALLOW_HTTP")
    monkeypatch.setenv(name, value)
    assert script.main([str(job)]) == 1
    assert capsys.readouterr().err.startswith(f"search-setup: {message}")


def test_main_reports_a_missing_plan(
    job: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEARCH_ENDPOINT", "https://vpc-x.eu-west-1.es.amazonaws.com")
    assert script.main([str(job.parent / "nowhere.json")]) == 1
    assert capsys.readouterr().err.startswith("search-setup: cannot read the plan ")
