"""Installing a real Python package in a test, the way a user's ``pip install`` would.

An integration's entry point is only found once its distribution is installed, so a test
of "a third-party package loads" must really install one. The package is built from a
private copy of its source (setuptools builds inside the source tree, and two runs
building the same tree at once leave a half-written ``build/`` that breaks later
installs) into a private directory the test puts on ``sys.path``; nothing reaches the
test environment's own site-packages, and no network is used.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def install_private(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the package whose source is ``source``; returns the directory to prepend
    to ``sys.path`` (``monkeypatch.syspath_prepend``)."""
    target = tmp_path_factory.mktemp("site")
    package = tmp_path_factory.mktemp("source") / source.name
    shutil.copytree(source, package)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            str(package),
        ],
        check=True,
        timeout=120,
    )
    return target
