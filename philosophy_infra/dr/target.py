"""What `dr` looks at for one stack: the regions, the objectives and the names, derived from the stack's config the
same way the program derives them (philosophy_infra.naming)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from philosophy_infra.config.aws import AwsStackConfig
from philosophy_infra.config.base import AWS_NAMESPACE, ConfigIssue, StackConfigError
from philosophy_infra.naming import Naming, backup_vault_name, dr_backup_vault_name, restore_testing_plan_name
from philosophy_infra.project import read_stack_file


@dataclass(frozen=True)
class DrTarget:
    stack: str
    region: str
    dr_region: str
    rpo_hours: int
    rto_hours: int
    database: str
    """The RDS instance identifier, in `region`."""
    vault: str
    """The AWS Backup vault in `region`."""
    dr_vault: str
    """The AWS Backup vault in `dr_region`, which the copies land in."""
    restore_testing_plan: str


def load_target(project_dir: Path, stack: str) -> DrTarget:
    """Raises UnknownStackError, StackFileError or StackConfigError, as `plan` does for the same stack."""
    config = AwsStackConfig.from_raw(stack, read_stack_file(project_dir, stack).config)
    names = Naming(config.environment)
    recovery = config.disaster_recovery
    if not recovery.cross_region:
        # A DR stack while its home region is lost: nothing is copied anywhere, so there is no second region to
        # report on (or to call, while it is down). Said as bad input: nothing to measure yet.
        issue = ConfigIssue(
            "disasterRecovery.crossRegion",
            False,
            "the stack copies to no DR region: `dr` measures nothing until crossRegion is true",
            namespace=AWS_NAMESPACE,
        )
        raise StackConfigError(stack, [issue], what="nothing to measure")
    return DrTarget(
        stack=stack,
        region=config.region,
        dr_region=recovery.region,
        rpo_hours=recovery.rpo_hours,
        rto_hours=recovery.rto_hours,
        database=names("postgres"),
        vault=backup_vault_name(names.prefix),
        dr_vault=dr_backup_vault_name(names.prefix),
        restore_testing_plan=restore_testing_plan_name(names.prefix),
    )
