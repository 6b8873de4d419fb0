"""Wheel build hook: puts the component into the wheel, or refuses to build.

Invariant: a wheel always carries exactly one component,
``llm_metrics/llm-metrics.wasm``, taken from ``LLM_METRICS_COMPONENT`` (the
path ``cargo run -q -p llm-metrics-host --example component_path -- mapping``
prints) or, without it, from ``src/llm_metrics/llm-metrics.wasm`` (git-ignored);
with neither, the build fails saying how to get one. It must be a
WebAssembly component, not a core module.
"""

import os
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TARGET = "llm_metrics/llm-metrics.wasm"
# A component's preamble: `\0asm`, version 0x0d, layer 1.
COMPONENT_MAGIC = b"\0asm\x0d\x00\x01\x00"


class CustomBuildHook(BuildHookInterface):
    """Adds the component as package data."""

    def initialize(self, version, build_data):
        env = os.environ.get("LLM_METRICS_COMPONENT")
        path = Path(env) if env else Path(self.root) / "src" / TARGET
        if not path.is_file():
            raise RuntimeError(
                f"no component at {path}: set LLM_METRICS_COMPONENT to the output of "
                "`cargo run -q -p llm-metrics-host --example component_path -- mapping`")
        with path.open("rb") as f:
            if f.read(8) != COMPONENT_MAGIC:
                raise RuntimeError(f"{path} is not a WebAssembly component")
        build_data["force_include"][str(path.resolve())] = TARGET
