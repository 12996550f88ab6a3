"""Configuration fails loudly with the variable's name; failpoints are inert unless armed."""

from __future__ import annotations

import subprocess
import sys
from typing import Self

import pytest
from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from tripline.settings import ServiceSettings, SettingsError, load_settings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", frozen=True)


def test_a_missing_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAMPLE_DATABASE_URL", raising=False)

    with pytest.raises(SettingsError, match="EXAMPLE_DATABASE_URL"):
        load_settings(ExampleSettings)


def test_a_bad_currency_names_the_shared_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql://u:p@127.0.0.1/db")
    monkeypatch.setenv("PLATFORM_CURRENCY", "rupees")

    with pytest.raises(SettingsError, match="PLATFORM_CURRENCY"):
        load_settings(ExampleSettings)


class WindowSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", frozen=True)

    opens: int = 0
    closes: int = 1

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.opens > self.closes:
            raise ValueError("EXAMPLE_OPENS must not exceed EXAMPLE_CLOSES")
        return self


def test_a_rule_across_variables_is_reported_in_its_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql://example")
    monkeypatch.setenv("EXAMPLE_OPENS", "5")

    with pytest.raises(SettingsError) as error:
        load_settings(WindowSettings)

    assert str(error.value) == "invalid configuration: Value error, EXAMPLE_OPENS must not exceed EXAMPLE_CLOSES"


def test_the_database_url_is_pinned_to_psycopg_3_and_hidden_from_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql://u:hunter2@127.0.0.1/db")

    settings = load_settings(ExampleSettings)

    assert settings.database_url.get_secret_value() == "postgresql+psycopg://u:hunter2@127.0.0.1/db"
    assert "hunter2" not in repr(settings)


def _run_failpoint(armed: str) -> int:
    code = "from tripline.failpoints import failpoint; failpoint('relay.after_publish'); print('survived')"
    env = {"TRIPLINE_FAILPOINTS": armed, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True).returncode


def test_an_armed_failpoint_kills_the_process_with_sigkill() -> None:
    assert _run_failpoint("something.else,relay.after_publish") == -9


def test_an_unarmed_failpoint_does_nothing() -> None:
    assert _run_failpoint("something.else") == 0
