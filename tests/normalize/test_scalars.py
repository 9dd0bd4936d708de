"""One-value helpers used by lookups (`cdp show`, `cdp forget`) match the pipeline."""

from __future__ import annotations

from cdp.normalize import email_value, phone_value


def test_email_value() -> None:
    assert email_value("M.Lopez+shop@GoogleMail.com") == (
        "m.lopez+shop@googlemail.com",
        "mlopez@gmail.com",
    )
    assert email_value("not an email") == (None, None)
    assert email_value(None) == (None, None)


def test_phone_value() -> None:
    assert phone_value("0034 612-345-678", "ES") == "+34612345678"
    assert phone_value("(415) 555-2671", "US") == "+14155552671"
    assert phone_value("612345678", "US") is None
    assert phone_value(None, "ES") is None
