"""PostgreSQL's SCRAM-SHA-256 password verifier (RFC 5802, RFC 7677), the form `pg_authid` keeps.

A role whose password is set as a verifier (`ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`) logs in with the
password, but the statement, which `log_statement = ddl` writes to the database's logs, never carries it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ITERATIONS = 4096
"""PostgreSQL's default `scram_iterations`."""


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = ITERATIONS) -> str:
    """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, each base64. The password is used as given:
    PostgreSQL's SASLprep leaves printable ASCII as it is, and the program only generates such passwords."""
    if not password.isascii() or not password.isprintable():
        raise ValueError("the password must be printable ASCII (SASLprep would change anything else)")
    if len(salt) < 16:
        raise ValueError("the salt must be at least 16 bytes")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
