"""Disaster-recovery operator tooling: `philosophy-infra dr status` measures every protected resource's newest
recovery point, in the stack's region and in the DR region, against the RPO; `philosophy-infra dr drill` restores
the database into the DR region and measures the restore against the RTO.

Both read the real account with boto3 (credentials from the environment); names and regions come from the stack's
config (`Pulumi.<stack>.yaml`), never from `pulumi stack output`, so they run without the Pulumi CLI or state."""
