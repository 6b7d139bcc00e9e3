"""The vendored RDS certificate authorities (components/kubernetes/app/rds_ca): what `sslmode=verify-full` trusts.

They must be the region's current RDS root CAs, valid for decades, and include the one the database is created
with (`caCertIdentifier`); an expired or foreign CA would make every client refuse the server."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509

from components.kubernetes.app.database_schema import RDS_CA_DIR, rds_ca_bundle
from philosophy_infra.plan import Plan

REGIONS = ["eu-west-1", "eu-central-1"]  # the stacks' region and the bootstrap's DR region


@pytest.mark.parametrize("region", REGIONS)
def test_each_region_has_its_three_current_root_cas(region: str) -> None:
    certificates = x509.load_pem_x509_certificates(rds_ca_bundle(region).encode())
    names = sorted(str(c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value) for c in certificates)
    assert names == [f"Amazon RDS {region} Root CA {kind} G1" for kind in ("ECC384", "RSA2048", "RSA4096")]
    for certificate in certificates:
        assert certificate.not_valid_after_utc.date() > datetime.date(2060, 1, 1)
        assert certificate.subject == certificate.issuer, "a root, self-signed"


def test_the_database_is_created_with_a_ca_the_clients_trust(prod_plan: Plan) -> None:
    identifier = prod_plan.one("aws:rds/instance:Instance").inputs["caCertIdentifier"]
    assert identifier == "rds-ca-rsa2048-g1"
    assert "Amazon RDS eu-west-1 Root CA RSA2048 G1" in rds_ca_bundle("eu-west-1")


def test_a_region_without_vendored_cas_is_a_clear_error() -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match=r"no RDS certificate authorities vendored for region 'mars-1'"):
        rds_ca_bundle("mars-1")
    assert sorted(p.stem for p in RDS_CA_DIR.glob("*.pem")) == sorted(REGIONS)
