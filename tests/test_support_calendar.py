"""The support calendar's warning: from 60 days before AWS's automatic upgrade, naming the key and the date."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra import support_calendar
from philosophy_infra.support_calendar import (
    EKS_STANDARD_SUPPORT_END,
    POSTGRES_STANDARD_SUPPORT_END,
    WARN_DAYS,
    support_warnings,
)
from tests.conftest import run_stack

EKS_END = EKS_STANDARD_SUPPORT_END["1.35"]


@given(st.integers(min_value=-400, max_value=400))
def test_a_version_warns_exactly_from_60_days_before_its_end(days_before: int) -> None:
    on = EKS_END - datetime.timedelta(days=days_before)
    found = list(support_warnings(kubernetes_version="1.35", postgres_major=None, on=on))
    if days_before > WARN_DAYS:
        assert found == []
    else:
        [(key, message)] = found
        assert key == "cluster.kubernetesVersion"
        assert "'1.35'" in message and EKS_END.isoformat() in message
        assert ("ended on" in message) == (days_before < 0)


def test_each_store_is_checked_against_its_own_calendar() -> None:
    pg_end = POSTGRES_STANDARD_SUPPORT_END["17"]
    found = dict(support_warnings(kubernetes_version=None, postgres_major="17", on=pg_end))
    assert list(found) == ["database.engineVersion"] and "in 0 day(s)" in found["database.engineVersion"]
    # Far from PostgreSQL 17's end, only the cluster's is near.
    assert [k for k, _ in support_warnings(kubernetes_version="1.35", postgres_major="17", on=EKS_END)] == [
        "cluster.kubernetesVersion"
    ]
    # A version the calendar does not know (config validation refuses it anyway) gives no warning.
    assert list(support_warnings(kubernetes_version="1.99", postgres_major="99", on=pg_end)) == []


def test_the_calendar_knows_every_version_the_config_accepts() -> None:
    from philosophy_infra.config.cluster import EKS_STANDARD_SUPPORT
    from philosophy_infra.config.database import POSTGRES_MAJOR_VERSIONS

    assert set(EKS_STANDARD_SUPPORT) == set(EKS_STANDARD_SUPPORT_END)
    assert set(POSTGRES_MAJOR_VERSIONS) == set(POSTGRES_STANDARD_SUPPORT_END)


@pytest.mark.parametrize(
    ("today", "warned"), [(EKS_END - datetime.timedelta(days=30), True), (EKS_END.replace(year=2026), False)]
)
def test_the_plan_warns_when_the_stacks_cluster_version_is_near_its_end(
    monkeypatch: pytest.MonkeyPatch, today: datetime.date, warned: bool
) -> None:
    monkeypatch.setattr(support_calendar, "today", lambda: today)
    plan = run_stack("prod")
    found = [w for w in plan.warnings if w.startswith("support: philosophy-infra:cluster.kubernetesVersion = '1.35'")]
    assert bool(found) == warned, plan.warnings
    # A warning, never a refusal: the stack plans either way.
    assert plan.of_type("eks:index:Cluster")
