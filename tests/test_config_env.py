"""The setting parsers of config/env.py: a good value read, a bad one refused naming the variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import days_from_env, int_from_env, month_day_from_env, row_limits_from_env, seconds_from_env


def test_days_are_read_as_whole_numbers_and_default_when_unset(monkeypatch):
    monkeypatch.setenv("TEST_DAYS", "90, 14")
    assert days_from_env("TEST_DAYS", [60, 30]) == [90, 14]
    monkeypatch.delenv("TEST_DAYS")
    assert days_from_env("TEST_DAYS", [60, 30]) == [60, 30]


@pytest.mark.parametrize(
    ("raw", "message"),
    [("sixty", "comma-separated whole numbers"), ("30,0", "each at least 1")],
)
def test_days_that_are_not_positive_whole_numbers_are_refused(monkeypatch, raw, message):
    monkeypatch.setenv("TEST_DAYS", raw)
    with pytest.raises(ImproperlyConfigured, match=f"TEST_DAYS must .*{message}"):
        days_from_env("TEST_DAYS", [60, 30])


def test_a_financial_year_end_is_a_month_and_day_that_every_year_has(monkeypatch):
    monkeypatch.setenv("TEST_FY_END", "12-31")
    assert month_day_from_env("TEST_FY_END", "03-31") == (12, 31)
    for raw in ("02-29", "13-01", "03", "03-31-01", "end of march"):
        monkeypatch.setenv("TEST_FY_END", raw)
        with pytest.raises(ImproperlyConfigured, match="TEST_FY_END must be MM-DD"):
            month_day_from_env("TEST_FY_END", "03-31")


def test_row_limits_are_read_per_regime_and_must_not_be_negative(monkeypatch):
    monkeypatch.setenv("TEST_WAIVER", "ccpa:50, vcdpa:0")
    assert row_limits_from_env("TEST_WAIVER") == {"ccpa": 50, "vcdpa": 0}
    monkeypatch.setenv("TEST_WAIVER", "ccpa")
    with pytest.raises(ImproperlyConfigured, match="TEST_WAIVER must look like ccpa:50,vcdpa:50"):
        row_limits_from_env("TEST_WAIVER")
    monkeypatch.setenv("TEST_WAIVER", "ccpa:-1")
    with pytest.raises(ImproperlyConfigured, match="TEST_WAIVER row limits must be 0 or more"):
        row_limits_from_env("TEST_WAIVER")


def test_seconds_take_fractions_and_refuse_words(monkeypatch):
    monkeypatch.setenv("TEST_SECONDS", "0.5")
    assert seconds_from_env("TEST_SECONDS", 2.0) == 0.5
    monkeypatch.setenv("TEST_SECONDS", "soon")
    with pytest.raises(ImproperlyConfigured, match="TEST_SECONDS must be a number of seconds"):
        seconds_from_env("TEST_SECONDS", 2.0)


def test_an_integer_outside_its_bounds_names_them(monkeypatch):
    monkeypatch.setenv("TEST_LEVEL", "9")
    assert int_from_env("TEST_LEVEL", 1, minimum=1, maximum=9) == 9
    monkeypatch.setenv("TEST_LEVEL", "12")
    with pytest.raises(ImproperlyConfigured, match="TEST_LEVEL must be between 1 and 9"):
        int_from_env("TEST_LEVEL", 1, minimum=1, maximum=9)
    monkeypatch.setenv("TEST_LEVEL", "0")
    with pytest.raises(ImproperlyConfigured, match="TEST_LEVEL must be at least 1"):
        int_from_env("TEST_LEVEL", 1, minimum=1, maximum=9)


def test_the_default_site_address_follows_the_demo_web_servers_port():
    """Links in letters point at the port the demo serves on (Procfile: WEB_PORT), unless SITE_URL says."""
    from tests.test_project import manage

    show = ["shell", "-v", "0", "-c", "from django.conf import settings; print(settings.SITE_URL)"]
    moved = manage(*show, env={"WEB_PORT": "8123"})
    assert moved.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8123", moved.stderr
    told = manage(*show, env={"WEB_PORT": "8123", "SITE_URL": "https://privacy.studio.example/"})
    assert told.stdout.strip().splitlines()[-1] == "https://privacy.studio.example", told.stderr
    refused = manage(*show, env={"WEB_PORT": "eighty"})
    assert refused.returncode != 0 and "WEB_PORT must be an integer" in refused.stderr
