"""The package under test is the installed wheel, with its component inside.

``.ci/run`` sets ``LLM_METRICS_EXPECT_INSTALLED=1``: there the package must
come from the virtual environment's site-packages, not from ``python/src``.
"""

import os
import sys
from pathlib import Path

import pytest

import llm_metrics
from llm_metrics.component import bundled_component


def test_the_component_ships_inside_the_package():
    wasm = bundled_component()
    assert wasm.is_file()
    assert wasm.read_bytes()[:8] == b"\0asm\x0d\x00\x01\x00"  # a component, not a module
    assert wasm.parent == Path(llm_metrics.__file__).parent


def test_installed_not_the_source_tree():
    if os.environ.get("LLM_METRICS_EXPECT_INSTALLED") != "1":
        pytest.skip("LLM_METRICS_EXPECT_INSTALLED is not 1 (a run from the source tree)")
    package = Path(llm_metrics.__file__).resolve()
    assert Path(sys.prefix).resolve() in package.parents, package
    assert "site-packages" in package.parts, package
