"""ground.contacts: contact windows and their usage, and the contacts blocks (UTC times, figures)."""

from __future__ import annotations

import datetime as dt

import pytest

from ground.contacts import _utc, contacts_blocks, contacts_section
from ground.document import Image, Paragraph, Table
from ground.run_data import load_run


def test_usage_of_the_one_window(tiny_run):
    contacts = contacts_section(load_run(tiny_run))
    assert (contacts["count"], contacts["tracked"]) == (1, 1)
    assert contacts["mean_usage"] == pytest.approx(240.0 / (1550.0 - 950.0))
    [window] = contacts["windows"]
    assert (window["satellite"], window["station"], window["aos_t_s"]) == ("sat-1", "svalbard", 950.0)


@pytest.mark.parametrize("t_s", [0.0, 950.0, 86399.0, 3 * 86400.0 + 1.0])
def test_aos_in_utc_or_in_hours(t_s):
    start = dt.datetime(2026, 6, 21, tzinfo=dt.timezone.utc)
    shown = _utc("2026-06-21T00:00:00.000Z", t_s)
    assert dt.datetime.strptime(shown, "%Y-%m-%d %H:%M:%SZ").replace(tzinfo=dt.timezone.utc) == \
        start + dt.timedelta(seconds=t_s)
    assert _utc(None, t_s) == f"{t_s / 3600:.2f} h after start"


def test_blocks_place_the_figures_they_are_given(tiny_run):
    contacts = contacts_section(load_run(tiny_run))
    figures = {"contact_bytes": "plots/contact-bytes.png", "timeline:sat-1": "plots/timeline-sat-1.png"}
    blocks = contacts_blocks(contacts, figures, "2026-06-21T00:00:00.000Z")
    [table] = [b for b in blocks if isinstance(b, Table)]
    assert table.rows[0][2] == "2026-06-21 00:15:50Z"  # AOS 950 s after the start
    assert [b for b in blocks if isinstance(b, Image)] == [Image("bytes per contact", "plots/contact-bytes.png"),
                                                          Image("timeline of sat-1", "plots/timeline-sat-1.png")]


def test_without_contact_telemetry(tiny_run):
    (tiny_run / "telemetry" / "contacts.jsonl").unlink()
    contacts = contacts_section(load_run(tiny_run))
    assert contacts["count"] is None and contacts["windows"] == []
    assert contacts_blocks(contacts, {}, None)[-1] == Paragraph("No contact telemetry (telemetry/contacts.jsonl).")
