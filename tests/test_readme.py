"""The README documents what users touch: its key tables are generated from the code and kept in step."""

from pathlib import Path

from onboard.scenario.config import key_table

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_key_tables_match_the_config_classes():
    assert key_table() in README, "README is stale: paste the output of `python -m onboard.scenario.config`"
    # ... and no older copy of the stage table lingers beside it
    header = "| stage | parameter | type | default | meaning |\n"
    assert README.count(header) == key_table().count(header) == 1


def test_readme_shows_the_two_commands_first():
    assert README.index("make run") < README.index("make test") < README.index("## What a run does")


def test_readme_sweep_keys_and_json_schema_match_the_code():
    from app import summary, sweep_file

    assert sweep_file.key_table().rstrip("\n") in README, "README is stale: paste `python -m app.sweep_file`"
    assert summary.schema_table().rstrip("\n") in README, "README is stale: paste `python -m app.summary`"
