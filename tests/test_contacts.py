"""ground.contacts: contact windows and their usage, and the contacts blocks (UTC times, figures)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ground.contacts import _utc, contacts_blocks, contacts_section
from ground.document import Image, Paragraph, Table
from ground.report import write_report
from ground.run_data import load_run
from onboard.sim import link_budget
from onboard.sim.downlink import ContactLog
from onboard.orbit.ephemeris import Ephemeris
from onboard.scenario.orbit_config import OrbitConfig
from onboard.orbit.passes import GroundStation, contact_windows
from rundir.files import write_jsonl


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


def test_a_satellite_that_waited_for_a_taken_antenna_is_told(tiny_run):
    """A constellation operator read a window that got the antenna for its last 48 of 627 s as 'tracked, usage
    7.6 %': the wait for another satellite to let the antenna go is in the table and told above it."""
    path = tiny_run / "telemetry" / "contacts.jsonl"
    [line] = [json.loads(text) for text in path.read_text().splitlines()]
    other = {**line, "satellite": "sat-2", "aos_t_s": 1000.0, "waited_s": 579.0, "used_s": 48.0}
    write_jsonl(path, [line, other])
    contacts = contacts_section(load_run(tiny_run))
    assert contacts["waited_s"] == 579.0
    blocks = contacts_blocks(contacts, {}, None)
    [table] = [b for b in blocks if isinstance(b, Table)]
    assert table.header[-1] == "waited" and [row[-1] for row in table.rows] == ["n/a", "9.7 min"]
    assert Paragraph("Stations were contended: in 1 window a satellite had products to send while another held "
                     "the station's one antenna, 9.7 min in all (the waited column).") in blocks
    write_jsonl(path, [line])  # no wait: no column
    assert contacts_blocks(contacts_section(load_run(tiny_run)), {}, None)[2].header[-1] == "sent"


def test_without_contact_telemetry(tiny_run):
    (tiny_run / "telemetry" / "contacts.jsonl").unlink()
    contacts = contacts_section(load_run(tiny_run))
    assert contacts["count"] is None and contacts["windows"] == []
    assert contacts_blocks(contacts, {}, None)[-1] == Paragraph("No contact telemetry (telemetry/contacts.jsonl).")


def test_a_run_with_no_contact_window_warns_at_the_top_of_its_report(tiny_run):
    """A station mask no pass clears leaves every frame on board: the report says why, not only "Contact windows: 0"."""
    assert "warning" not in contacts_section(load_run(tiny_run))
    (tiny_run / "telemetry" / "contacts.jsonl").write_text("")
    assert contacts_section(load_run(tiny_run))["warning"].startswith("no contact window in the time simulated")
    report, _ = write_report(tiny_run, "md")
    assert report["warnings"][0].startswith("no contact window in the time simulated")
    assert "ground_stations[*].min_elevation_deg" in (tiny_run / "report.md").read_text()


def test_a_run_stopped_before_any_contact_says_how_far_it_got_not_to_check_the_stations(tiny_run):
    """A run interrupted (Ctrl-C, a --realtime overrun) before the first pass has no contact window because it
    stopped, not because of its stations or orbits."""
    (tiny_run / "telemetry" / "contacts.jsonl").write_text("")
    info_path = tiny_run / "telemetry" / "run.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "complete": False,
                                     "stopped": {"reason": "KeyboardInterrupt", "simulated_s": 0.0}}))
    warning = contacts_section(load_run(tiny_run))["warning"]
    assert warning == ("no contact window in the 0.0 s simulated before the run stopped (KeyboardInterrupt): a "
                       "complete run may have some.")


def _link_telemetry(run_dir, constant_bytes_per_s):
    """A real pass under an X-band link budget (550 km SSO over Svalbard) written as the run's link.jsonl, having
    sent 1.5 GB in 400 s; returns its ContactLog."""
    start = dt.datetime(2026, 6, 21, tzinfo=dt.timezone.utc)
    ephemeris = Ephemeris([OrbitConfig(altitude_km=550.0, sun_synchronous=True, ltan_h=10.5).satrec(start)], start)
    station = GroundStation("svalbard", 78.23, 15.39, 500.0, 5.0)
    window = max(contact_windows(ephemeris, ["sat-1"], [station], 12 * 3600.0), key=lambda w: w.max_elevation_deg)
    budget = link_budget.Budget(10.0, 28.0, 8.2, 50.0, 1.0, 1.0, 3.0, link_budget.modcod_table())
    rates = link_budget.pass_rates(ephemeris, 0, station, window, budget, 0.9, constant_bytes_per_s)
    log = ContactLog("sat-1", "svalbard", window.aos_t_s, window.los_t_s, window.max_elevation_deg, True, 400.0,
                     1.5e9, 3, link=rates, serving_s=400.0)
    write_jsonl(run_dir / "telemetry" / "link.jsonl", [log.link_record().to_json()])
    return log


def test_without_a_link_budget_the_section_has_no_link_key(tiny_run):
    assert "link" not in contacts_section(load_run(tiny_run))


def test_each_pass_against_the_constant_rate_model(tiny_run):
    log = _link_telemetry(tiny_run, 100e6 / 8 * 0.9)
    link = contacts_section(load_run(tiny_run))["link"]
    [one] = link["passes"]
    assert link["constant_model"] == ["rate_mbps"]
    assert (link["bytes_sent"], link["constant_rate_bytes"]) == (1_500_000_000, 4_500_000_000)  # 11.25 MB/s x 400 s
    assert one["vs_constant"] == pytest.approx(1 / 3)
    assert sum(one["modcod_s"].values()) == pytest.approx(log.los_t_s - log.aos_t_s, abs=1e-3)
    assert one["max_elevation_deg"] == pytest.approx(log.max_elevation_deg, abs=2.0)
    assert one["capacity_bytes"] == round(log.link.cumulative_bytes[-1])
    blocks = contacts_blocks(contacts_section(load_run(tiny_run)), {"pass_link": "plots/pass-link.png"}, None)
    table = [b for b in blocks if isinstance(b, Table)][-1]
    assert table.header[-3:] == ("constant-rate model", "sent / model", "capacity") and len(table.rows) == 1
    assert blocks[-1] == Image("rate and elevation over each pass", "plots/pass-link.png")


def test_a_pass_s_max_elevation_is_its_contact_window_s_culmination(tiny_run):
    """The link samples fall where the rate changes and can miss the culmination: the link table gives the
    contact window's highest elevation, the same figure as the contacts table."""
    log = _link_telemetry(tiny_run, None)
    contacts = tiny_run / "telemetry" / "contacts.jsonl"
    contacts.write_text(contacts.read_text() + json.dumps(log.contact_record().to_json()) + "\n")
    section = contacts_section(load_run(tiny_run))
    [one] = section["link"]["passes"]
    [window] = [w for w in section["windows"] if (w["station"], w["aos_t_s"]) == ("svalbard", one["aos_t_s"])]
    assert one["max_elevation_deg"] == window["max_elevation_deg"] == round(log.max_elevation_deg, 3)
    assert max(sample[1] for sample in one["samples"]) <= one["max_elevation_deg"]


def test_the_report_draws_rate_and_elevation_over_each_pass(tiny_run):
    _link_telemetry(tiny_run, None)
    report, _ = write_report(tiny_run)
    assert report["contacts"]["link"]["constant_model"] == ["lowest_elevation_modcod"]
    assert (tiny_run / "plots" / "pass-link.png").stat().st_size > 10_000
    assert "Link budget per pass" in (tiny_run / "report.md").read_text()


def test_a_broken_link_line_is_an_anomaly_and_the_other_passes_stay(tiny_run):
    _link_telemetry(tiny_run, None)
    path = tiny_run / "telemetry" / "link.jsonl"
    path.write_text(path.read_text() + 'not json\n{"bytes_sent": 1}\n')  # a line that is not JSON, one not a pass
    run = load_run(tiny_run)
    assert [record.to_json() for record in run.link] == [json.loads(path.read_text().splitlines()[0])]
    assert len(contacts_section(run)["link"]["passes"]) == 1
    problems = [a for a in run.anomalies if a["file"] == "telemetry/link.jsonl"]
    assert sorted((a["line"], a["kind"]) for a in problems) == [(2, "bad_line"), (3, "bad_line")]
    assert "telemetry/link.jsonl" not in run.missing


def test_without_link_telemetry_nothing_is_missing(tiny_run):
    assert "telemetry/link.jsonl" not in load_run(tiny_run).missing
