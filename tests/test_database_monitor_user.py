"""The monitoring user against a real PostgreSQL: the schema Job's SQL, fed to psql the way the Job does (its
verifier substituted by psql from the environment), makes a `pg_monitor` user that logs in with the password
the AWS layer keeps in Secrets Manager, and with nothing else. Runs twice: the Job repeats on every release.

Needs PostgreSQL's server binaries (Debian's `postgresql`, which `.ci/run` installs); skips, saying so, without."""

from __future__ import annotations

import base64
import glob
import hashlib
import hmac
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.kubernetes.app.database_schema import schema_sql
from philosophy_infra.scram import scram_sha256_verifier

PASSWORD = "Sup3rSecretMonitorPassw0rdFromSecretsManager"


def test_verifier_answers_rfc_7677s_exchange() -> None:
    """RFC 7677, section 3: user `user`, password `pencil`. The server's signature and the check of the client's
    proof, computed from the verifier alone, are the RFC's."""
    verifier = scram_sha256_verifier("pencil", base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    assert method == "SCRAM-SHA-256" and iterations_salt == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = (
        f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}"
    ).encode()
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert base64.b64encode(server_signature).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    client_key = bytes(p ^ s for p, s in zip(proof, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


@settings(max_examples=25, deadline=None)
@given(password=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64))
def test_verifier_never_contains_the_password(password: str) -> None:
    verifier = scram_sha256_verifier(password, b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert len(password) < 12 or password not in verifier


def test_non_ascii_passwords_and_short_salts_are_refused() -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        scram_sha256_verifier("pässword", b"0123456789abcdef")
    with pytest.raises(ValueError, match="16 bytes"):
        scram_sha256_verifier("password", b"short")


def _server_binary(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


def _unprivileged(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root (as CI does): the server runs as `nobody` there."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    if not (initdb and pg_ctl and shutil.which("psql")):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL's server binaries are not installed: .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)")
    # Not under pytest's tmp_path: its parents are private to the user running the tests, not the server's.
    tmp_path = Path(tempfile.mkdtemp(prefix="philosophy-pg-"))
    tmp_path.chmod(0o777)
    data, socket = tmp_path / "data", tmp_path
    (tmp_path / "pw").write_text("master\n")
    (tmp_path / "pw").chmod(0o644)
    subprocess.run(
        _unprivileged([initdb, "-D", str(data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={tmp_path}/pw"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {socket} -p 5499 -c listen_addresses=''"
    subprocess.run(
        _unprivileged([pg_ctl, "-D", str(data), "-o", options, "-l", str(tmp_path / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    env = {"PATH": os.environ["PATH"], "PGHOST": str(socket), "PGPORT": "5499", "PGDATABASE": "postgres"}
    try:
        yield env
    finally:
        subprocess.run(_unprivileged([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _psql(env: dict[str, str], user: str, password: str, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["psql", "-X", "-At", *args],
        input=stdin,
        env={**env, "PGUSER": user, "PGPASSWORD": password},
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise AssertionError(result.stderr.strip())
    return result.stdout.strip()


def test_the_schema_jobs_sql_makes_a_monitoring_user_that_logs_in_with_its_password(
    postgres: dict[str, str],
) -> None:
    # RDS's own pieces (the extension is not installed here, `rds_iam` does not exist outside RDS) left out.
    sql = "\n".join(
        line for line in schema_sql("postgres").splitlines() if "vector" not in line and "rds_iam" not in line
    )
    verifier = scram_sha256_verifier(PASSWORD, os.urandom(16))
    for _ in range(2):
        # What the Job's init container runs: the SQL on standard input, the verifier as a psql variable.
        _psql(postgres, "postgres", "master", "-v", "ON_ERROR_STOP=1", "-v", f"monitor_verifier={verifier}", stdin=sql)
    assert _psql(postgres, "philosophy_monitor", PASSWORD, "-c", "SELECT pg_has_role('pg_monitor', 'member')") == "t"
    with pytest.raises(AssertionError, match="password authentication failed"):
        _psql(postgres, "philosophy_monitor", PASSWORD + "x", "-c", "SELECT 1")
    # The statement that set it carried the verifier, never the password.
    assert PASSWORD not in sql and verifier not in sql
