"""Nothing unsafe by default, checked on the source itself (docs/reliability.md, "Security").

- No unpickling anywhere but the one flagged path (LLaRA's pickled splits, only with
  ``trust_pickle=True``): no ``pickle.load(s)``, ``torch.load`` without ``weights_only=True``,
  ``read_pickle``, ``numpy.load(..., allow_pickle=True)``, ``joblib``/``dill``, unsafe YAML.
- ``trust_remote_code`` is never switched on in code: only a config that asks for it.
- No ``eval``/``exec``/``os.system``/``shell=True``: config paths are data, never executed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for pkg in ("llara_core", "llara_plugins") for p in (ROOT / pkg).rglob("*.py"))

#: pattern -> why it is refused
FORBIDDEN = {
    r"\bpickle\.loads?\(": "unpickling",
    r"\b(c|_)?[Pp]ickle\.Unpickler\b": "unpickling",
    r"\bjoblib\.load\(|\bdill\.loads?\(": "unpickling",
    r"\bread_pickle\(": "unpickling (pandas)",
    r"allow_pickle\s*=\s*True": "unpickling (numpy)",
    r"\byaml\.(unsafe_)?load\((?![^)]*SafeLoader)": "unsafe YAML (use yaml.safe_load)",
    r"trust_remote_code\s*=\s*True": "remote code switched on in code",
    r"(?<![\w.])(eval|exec)\(": "executing text",
    r"\bos\.system\(|shell\s*=\s*True": "running a shell",
}
#: (file, pattern) pairs that are the flagged paths, each checked below
ALLOWED = {("llara_core/data/llara_import.py", r"\bread_pickle\(")}


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """Lines of code with comments and docstrings blanked (a docstring may name a pattern)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for i in range(node.lineno - 1, node.end_lineno):
                lines[i] = ""
    return [(i + 1, line.split("#", 1)[0]) for i, line in enumerate(lines)]


def test_the_grep_covers_the_packages():
    assert len(SOURCES) > 50 and any(p.name == "llara_import.py" for p in SOURCES)


@pytest.mark.parametrize("pattern", list(FORBIDDEN))
def test_no_unsafe_call_outside_the_flagged_paths(pattern):
    hits = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        if (rel, pattern) in ALLOWED:
            continue
        for lineno, line in _code_lines(path):
            if re.search(pattern, line):
                hits.append(f"{rel}:{lineno}: {line.strip()}")
    assert not hits, f"{FORBIDDEN[pattern]}:\n" + "\n".join(hits)


def _torch_load_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound to the torch module and to ``torch.load`` itself by the imports of ``tree``
    (``import torch as t``, ``from torch import load as tl``)."""
    modules, loads = {"torch"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "torch"}
        elif isinstance(node, ast.ImportFrom) and node.module == "torch":
            loads |= {a.asname or a.name for a in node.names if a.name == "load"}
    return modules, loads


def _torch_load_calls_without_weights_only(tree: ast.AST) -> list[int]:
    modules, loads = _torch_load_names(tree)
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        is_load = (isinstance(f, ast.Attribute) and f.attr == "load" and isinstance(f.value, ast.Name) and f.value.id in modules) or (
            isinstance(f, ast.Name) and f.id in loads
        )
        if is_load and not any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords):
            hits.append(node.lineno)
    return hits


def test_torch_load_always_passes_weights_only_true():
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES for n in _torch_load_calls_without_weights_only(ast.parse(p.read_text(encoding="utf-8")))]
    assert not hits, "torch.load without weights_only=True: " + ", ".join(hits)


@pytest.mark.parametrize(
    "code, flagged",
    [
        ("import torch\ntorch.load('x')", [2]),
        ("import torch as t\nt.load('x')", [2]),
        ("from torch import load as tl\ntl('x')", [2]),
        ("from torch import load\nload('x', weights_only=True)", []),
        ("import json\njson.load(open('x'))", []),
    ],
)
def test_the_torch_load_check_sees_aliases(code, flagged):
    assert _torch_load_calls_without_weights_only(ast.parse(code)) == flagged


def test_the_one_unpickling_call_refuses_untrusted_files_first():
    """``read_pickle`` sits in ``_read_frame``, whose first statement refuses without the flag,
    and every public function reaching it takes ``trust_pickle`` (keyword, default False)."""
    path = ROOT / "llara_core" / "data" / "llara_import.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    reader = functions["_read_frame"]
    first = reader.body[0]
    assert isinstance(first, ast.Expr) and ast.unparse(first) == "_refuse_untrusted(path, trust_pickle)"
    assert "read_pickle" in ast.unparse(reader)
    for name in ("read_llara_split", "import_llara"):
        args = functions[name].args
        names = [a.arg for a in args.args + args.kwonlyargs]
        assert "trust_pickle" in names, name
    default = functions["read_llara_split"].args.kw_defaults[[a.arg for a in functions["read_llara_split"].args.kwonlyargs].index("trust_pickle")]
    assert isinstance(default, ast.Constant) and default.value is False
    callers = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and "_read_frame(" in ast.unparse(n) and n.name != "_read_frame"]
    assert callers == ["read_llara_split"]


def test_unpickling_needs_the_flag_on_every_public_path(tmp_path):
    from llara_core.data.llara_import import import_llara, read_llara_split
    from llara_core.errors import LlaraError

    bomb = tmp_path / "train_data.df"
    bomb.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    with pytest.raises(LlaraError, match="refusing to unpickle"):
        read_llara_split(bomb, "train", 10)
    with pytest.raises(LlaraError, match="refusing to unpickle"):
        read_llara_split(bomb, "train", 10, trust_pickle="yes")  # only True itself counts
    with pytest.raises(LlaraError, match="refusing to unpickle"):
        import_llara(tmp_path, "lastfm", trust_pickle=False)
    assert not (tmp_path / "pwned").exists()


def test_trust_remote_code_reaches_transformers_only_when_the_config_asks(tmp_path, monkeypatch):
    import transformers

    from llara_core.slots import BACKBONES

    (tmp_path / "config.json").write_text("{}")
    seen = []

    def capture(source, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        raise OSError("stop here")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", capture)
    for params, expected in (({}, False), ({"trust_remote_code": True}, True)):
        with pytest.raises(Exception, match="stop here"):
            BACKBONES.build("hf", {"model": str(tmp_path), **params}).load()
        assert seen[-1] is expected
    from llara_plugins.backbones.params import HFParams

    assert HFParams(model="x").trust_remote_code is False


def test_config_paths_are_checked_never_executed(tmp_path, monkeypatch, capsys):
    import yaml

    from llara_core.cli.main import main

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    raw = {"data": {"path": f"$(touch {marker})"}, "item_encoder": {"checkpoint": f"`touch {marker}`"},
           "backbone": {"name": "hf", "params": {"model": f"; touch {marker}"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    assert main(["train", "c.yaml"]) == 2
    err = capsys.readouterr().err
    assert "data.path" in err and "item_encoder.checkpoint" in err
    assert not marker.exists()
