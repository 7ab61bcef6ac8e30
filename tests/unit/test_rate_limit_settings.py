"""The rate limits and overload bounds read from the environment: on by default, each one
configurable, and a value procplane cannot use refused at start-up."""

from __future__ import annotations

import pytest

from controlplane.domain.settings import SettingsError, load_settings


def test_rate_limits_are_on_by_default_with_lower_budgets_for_mutations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCPLANE_RATE_LIMITS_ENABLED", raising=False)
    settings = load_settings()
    assert settings.rate_limits_enabled is True
    assert settings.rate_limit_window_seconds == 60
    assert (settings.rate_limit_reads, settings.rate_limit_writes, settings.rate_limit_creations) == (400, 120, 60)
    assert settings.rate_limit_auth_failures == 20
    assert settings.max_requests_in_flight == 64


def test_each_limit_and_bound_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PROCPLANE_RATE_LIMITS_ENABLED": "off",
        "PROCPLANE_RATE_LIMIT_WINDOW_SECONDS": "10",
        "PROCPLANE_RATE_LIMIT_READS": "1000",
        "PROCPLANE_RATE_LIMIT_WRITES": "300",
        "PROCPLANE_RATE_LIMIT_CREATIONS": "30",
        "PROCPLANE_RATE_LIMIT_AUTH_FAILURES": "5",
        "PROCPLANE_RATE_LIMIT_HEARTBEAT_PINGS": "600",
        "PROCPLANE_MAX_REQUESTS_IN_FLIGHT": "8",
        "PROCPLANE_DATABASE_POOL_SIZE": "4",
        "PROCPLANE_DATABASE_POOL_OVERFLOW": "0",
        "PROCPLANE_DATABASE_POOL_TIMEOUT_SECONDS": "2.5",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.rate_limits_enabled is False
    assert settings.rate_limit_window_seconds == 10
    assert (settings.rate_limit_reads, settings.rate_limit_writes, settings.rate_limit_creations) == (1000, 300, 30)
    assert (settings.rate_limit_auth_failures, settings.rate_limit_heartbeat_pings) == (5, 600)
    assert settings.max_requests_in_flight == 8
    assert (settings.database_pool_size, settings.database_pool_overflow) == (4, 0)
    assert settings.database_pool_timeout_seconds == 2.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PROCPLANE_RATE_LIMIT_READS", "0", "PROCPLANE_RATE_LIMIT_READS must be at least 1"),
        ("PROCPLANE_RATE_LIMITS_ENABLED", "maybe", "PROCPLANE_RATE_LIMITS_ENABLED must be true or false"),
        ("PROCPLANE_MAX_REQUESTS_IN_FLIGHT", "many", "PROCPLANE_MAX_REQUESTS_IN_FLIGHT must be an integer"),
        ("PROCPLANE_DATABASE_POOL_OVERFLOW", "-1", "PROCPLANE_DATABASE_POOL_OVERFLOW must be at least 0"),
        ("PROCPLANE_DATABASE_POOL_TIMEOUT_SECONDS", "0", "PROCPLANE_DATABASE_POOL_TIMEOUT_SECONDS must be above 0"),
    ],
)
def test_unusable_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_the_install_id_defaults_for_local_runs_and_must_be_a_dns_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCPLANE_INSTALL_ID", raising=False)
    assert load_settings().install_id == "default"
    monkeypatch.setenv("PROCPLANE_INSTALL_ID", "3f2a9c01b7d4e866")
    assert load_settings().install_id == "3f2a9c01b7d4e866"
    for bad in ("Blue", "-blue", "blue_green", "x" * 64):
        monkeypatch.setenv("PROCPLANE_INSTALL_ID", bad)
        with pytest.raises(SettingsError, match="PROCPLANE_INSTALL_ID"):
            load_settings()
