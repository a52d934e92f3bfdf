"""Rules as data: defaults, a deployment's overrides (LECTERN_ALERT_RULES), receivers (LECTERN_ALERT_WEBHOOK_URLS)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.alerts.config import AlertConfig, parse_receivers
from core.alerts.errors import AlertConfigInvalid
from core.alerts.rules import DEFAULT_RULES, EVALUATED, RECONCILE, resolve_rules
from core.settings import SettingsError, load_settings


def test_every_rule_has_a_default_and_is_measured_somewhere() -> None:
    assert set(DEFAULT_RULES) == set(EVALUATED) | set(RECONCILE)
    assert resolve_rules() == DEFAULT_RULES


def test_overrides_change_only_the_fields_given() -> None:
    rules = resolve_rules({"playback_failure": {"threshold": 2.5, "for_s": 60}, "sync_job": {"enabled": False}})
    assert rules["playback_failure"].threshold == 2.5 and rules["playback_failure"].for_s == 60
    assert rules["playback_failure"].min_count == DEFAULT_RULES["playback_failure"].min_count
    assert rules["sync_job"].enabled is False


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"playback_failures": {}}, "unknown alert rule 'playback_failures'"),
        ({"playback_failure": {"treshold": 1}}, "unknown field 'treshold'"),
        ({"playback_failure": {"threshold": -1}}, "threshold must be a number >= 0"),
        ({"playback_failure": {"for_s": 1.5}}, "for_s must be a whole number"),
        ({"playback_failure": {"enabled": "no"}}, "enabled must be true or false"),
        ({"playback_failure": {"severity": "loud"}}, "severity must be one of"),
        ({"playback_failure": 3}, "give an object of fields"),
    ],
)
def test_bad_overrides_are_refused_naming_the_problem(overrides: dict[str, object], says: str) -> None:
    with pytest.raises(AlertConfigInvalid, match=says):
        resolve_rules(overrides)  # type: ignore[arg-type]


def test_receivers_are_named_and_their_urls_kept_secret() -> None:
    found = parse_receivers(
        [
            SecretStr("ops=https://hooks.slack.com/services/T/B/x"),
            "https://hooks.slack.com/services/T/B/y",
            "http://h/z",
        ]
    )
    assert [r.name for r in found] == ["ops", "hooks.slack.com", "h"]
    assert "services" not in repr(found)
    with pytest.raises(AlertConfigInvalid, match="receiver 1 is not") as refused:
        parse_receivers(["ftp://hooks.example/secret-path"])
    assert "secret-path" not in str(refused.value)
    with pytest.raises(AlertConfigInvalid, match="given twice"):
        parse_receivers(["a=http://h/1", "a=http://h/2"])


def test_settings_read_rules_and_receivers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_ALERT_RULES", '{"startup_time_p95": {"threshold": 3}}')
    monkeypatch.setenv(
        "LECTERN_ALERT_WEBHOOK_URLS", "slack=https://hooks.slack.com/services/a/b/c, http://127.0.0.1:9/x"
    )
    settings = load_settings()
    config = AlertConfig.from_settings(settings)
    assert config.rules["startup_time_p95"].threshold == 3.0
    assert config.receiver_names == ("slack", "127.0.0.1")
    assert "hooks.slack.com/services" not in str(settings.masked())

    monkeypatch.setenv("LECTERN_ALERT_RULES", '{"startup_time_p95": {"threshhold": 3}}')
    with pytest.raises(SettingsError, match=r"LECTERN_ALERT_RULES: .*unknown field 'threshhold'"):
        load_settings()
    monkeypatch.delenv("LECTERN_ALERT_RULES")
    monkeypatch.setenv("LECTERN_ALERT_WEBHOOK_URLS", "not a url")
    with pytest.raises(SettingsError, match=r"LECTERN_ALERT_WEBHOOK_URLS: .*receiver 1") as refused:
        load_settings()
    assert "not a url" not in str(refused.value)
