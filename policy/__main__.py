"""The policy pack's entry point, which `pulumi preview|up --policy-pack policy` runs.

It only builds the pack: `PolicyPack(...)` starts the pack's gRPC server and never returns, so nothing may
import this file (tests and the offline plan load `guardrails.py`, where the policies live).
"""

from guardrails import ALL_POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="philosophy-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=ALL_POLICIES)
