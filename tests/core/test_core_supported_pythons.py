"""The interpreters the project claims are exactly the ones its test command runs on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _claimed() -> tuple[list[str], str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    versions = [
        c.removeprefix(prefix)
        for c in project["classifiers"]
        if re.fullmatch(re.escape(prefix) + r"3\.\d+", c)
    ]
    return versions, project["requires-python"]


def test_test_command_covers_every_classifier():
    versions, _ = _claimed()
    match = re.search(r'^SUPPORTED_PYTHONS="([^"]+)"$', (ROOT / "scripts/test").read_text(), re.M)
    assert match is not None, "scripts/test must name SUPPORTED_PYTHONS"
    assert match.group(1).split() == versions


def test_requires_python_spans_exactly_the_classifiers():
    versions, requires = _claimed()
    minors = sorted(int(v.split(".")[1]) for v in versions)
    assert minors == list(range(minors[0], minors[-1] + 1)), "no gaps in the tested versions"
    assert requires == f">=3.{minors[0]},<3.{minors[-1] + 1}"


def test_readme_names_the_tested_versions():
    versions, _ = _claimed()
    readme = (ROOT / "README.md").read_text()
    assert f"Python {', '.join(versions[:-1])} and {versions[-1]}" in readme
