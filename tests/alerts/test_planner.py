"""The lifecycle planner, pure: observations + open alerts + now -> transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.alerts.planner import Fire, Observation, Open, OpenAlert, Refresh, Resolve, plan
from core.alerts.rules import MIGRATION_FAILURES, PLAYBACK_FAILURE, SYNC_JOB, resolve_rules

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = resolve_rules({PLAYBACK_FAILURE: {"for_s": 600}, MIGRATION_FAILURES: {"for_s": 0}})
ALL = set(RULES)


def obs(key: str = PLAYBACK_FAILURE, rule: str = PLAYBACK_FAILURE, value: float = 9.0) -> Observation:
    return Observation(rule, key, f"{key} at {value}", value=value, threshold=5.0)


def stored(
    key: str = PLAYBACK_FAILURE, state: str = "pending", age_s: int = 0, kind: str = PLAYBACK_FAILURE
) -> OpenAlert:
    return OpenAlert(7, key, kind, state, NOW - timedelta(seconds=age_s))


def test_a_new_condition_is_pending_or_fires_at_once_without_a_for_duration() -> None:
    result = plan(RULES, ALL, [obs(), obs(MIGRATION_FAILURES, MIGRATION_FAILURES)], [], NOW)
    assert result.opens == [Open(obs(), "pending"), Open(obs(MIGRATION_FAILURES, MIGRATION_FAILURES), "firing")]
    assert not (result.refreshes or result.fires or result.resolves)


def test_a_pending_alert_fires_once_held_for_the_duration_and_is_refreshed_before() -> None:
    before = plan(RULES, ALL, [obs(value=8)], [stored(age_s=599)], NOW)
    assert before.refreshes == [Refresh(7, obs(value=8))] and not before.fires
    after = plan(RULES, ALL, [obs(value=8)], [stored(age_s=600)], NOW)
    assert after.fires == [Fire(7, obs(value=8))] and not after.refreshes and not after.opens


def test_a_firing_alert_is_only_refreshed_while_it_holds() -> None:
    result = plan(RULES, ALL, [obs()], [stored(state="firing", age_s=9999)], NOW)
    assert result.refreshes == [Refresh(7, obs())] and not (result.opens or result.fires or result.resolves)


def test_cleared_conditions_resolve_and_only_a_fired_one_says_so() -> None:
    fired = plan(RULES, ALL, [], [stored(state="firing")], NOW)
    assert fired.resolves == [Resolve(7, PLAYBACK_FAILURE, was_firing=True)]
    quiet = plan(RULES, ALL, [], [stored(state="pending")], NOW)
    assert quiet.resolves == [Resolve(7, PLAYBACK_FAILURE, was_firing=False)]


def test_rules_not_measured_leave_their_alerts_alone_and_their_reports_are_ignored() -> None:
    result = plan(RULES, {SYNC_JOB}, [obs()], [stored(state="firing")], NOW)
    assert result.empty


def test_a_disabled_rule_resolves_its_alerts_and_opens_nothing() -> None:
    rules = resolve_rules({PLAYBACK_FAILURE: {"enabled": False}})
    result = plan(rules, ALL, [obs()], [stored(state="firing")], NOW)
    assert result.resolves == [Resolve(7, PLAYBACK_FAILURE, was_firing=True)] and not result.opens


def test_one_alert_per_key_even_when_reported_twice() -> None:
    result = plan(RULES, ALL, [obs(value=9), obs(value=12)], [], NOW)
    assert len(result.opens) == 1 and result.opens[0].observation.value == 9
