"""``!include`` cycles and dependency cycles are reported, not crashed on."""

import pytest

from hub.integrations import Integration, dependency_order
from hub.yaml_loader import ConfigError, load_yaml


def test_a_file_that_includes_itself_names_the_file_and_line(tmp_path):
    (tmp_path / "configuration.yaml").write_text("hub:\n  name: x\nloop: !include loop.yaml\n")
    (tmp_path / "loop.yaml").write_text("# a comment\nagain: !include loop.yaml\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(tmp_path / "configuration.yaml")
    error = caught.value
    assert error.file == str((tmp_path / "loop.yaml").resolve())
    assert error.line == 2
    assert "makes a cycle: configuration.yaml (line 3) -> loop.yaml (line 2) -> loop.yaml" in (
        str(error)
    )


def test_a_cycle_through_two_files_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("b: !include b.yaml\n")
    (tmp_path / "b.yaml").write_text("x: 1\na: !include a.yaml\n")
    with pytest.raises(ConfigError, match=r"a.yaml \(line 1\) -> b.yaml \(line 2\) -> a.yaml"):
        load_yaml(tmp_path / "a.yaml")


def test_the_same_file_included_twice_is_no_cycle(tmp_path):
    (tmp_path / "part.yaml").write_text("pin: 17\n")
    (tmp_path / "main.yaml").write_text("one: !include part.yaml\ntwo: !include part.yaml\n")
    assert load_yaml(tmp_path / "main.yaml") == {"one": {"pin": 17}, "two": {"pin": 17}}


def test_dependency_order_is_deterministic_and_fails_a_cycle_with_what_waits_on_it():
    integrations = {
        name: Integration(name, dependencies=deps)
        for name, deps in {
            "zeta": (),
            "alpha": ("zeta",),
            "beta": ("gamma",),
            "gamma": ("beta",),
            "delta": ("beta",),
            "omega": (),
        }.items()
    }
    ordered = [item.name for item in dependency_order(integrations)]
    assert ordered == ["omega", "zeta", "alpha", "beta", "delta", "gamma"]
    for name in ("beta", "gamma", "delta"):
        assert integrations[name].error == "dependency cycle among: beta, delta, gamma"
    assert integrations["alpha"].ok and integrations["zeta"].ok
