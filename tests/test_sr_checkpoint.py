"""Item encoder checkpoints: safetensors + config.json, rebuilt by registered name, loaded strictly."""

from __future__ import annotations

import json

import pytest
import torch

from llara_core.config.validate import validate_components
from llara_core.errors import LlaraError, UnknownComponentError
from llara_core.slots import ITEM_ENCODERS
from llara_core.sr.checkpoint import load_item_encoder, save_item_encoder


@pytest.mark.parametrize("name", [n for n in ITEM_ENCODERS.names() if ITEM_ENCODERS.provider(n).distribution == "llara"])
def test_round_trip_restores_scores_and_config(name, tmp_path):
    enc = ITEM_ENCODERS.build(name, {"dim": 16, "history_len": 5}, n_items=20).eval()
    save_item_encoder(enc, name, tmp_path / "m", data_hash="abc", dataset="tiny", training={"epochs": 3})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded, config = load_item_encoder(tmp_path / "m")
    assert type(loaded) is type(enc) and not loaded.training
    assert config["component"] == name and config["n_items"] == 20
    assert config["params"] == enc.hyperparameters() and config["params"]["dim"] == 16
    assert (config["data_hash"], config["dataset"], config["training"]) == ("abc", "tiny", {"epochs": 3})
    assert config["distribution"] == "llara" and config["version"]
    hist = torch.tensor([[1, 2, 3, 20, 20], [4, 20, 20, 20, 20]])
    lengths = torch.tensor([3, 1])
    with torch.no_grad():
        torch.testing.assert_close(loaded.score(hist, lengths), enc.score(hist, lengths))


def _saved(tmp_path, **params):
    enc = ITEM_ENCODERS.build("gru4rec", {"dim": 8, **params}, n_items=10)
    return save_item_encoder(enc, "gru4rec", tmp_path / "m")


def _edit_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_mismatched_weights_give_a_clear_error(tmp_path):
    folder = _saved(tmp_path)
    _edit_config(folder, n_items=12)
    with pytest.raises(LlaraError, match=r"wrong shape item_embeddings.weight \(11, 8\) \(expected \(13, 8\)\)"):
        load_item_encoder(folder)


def test_weights_of_another_architecture_are_refused(tmp_path):
    folder = _saved(tmp_path)
    _edit_config(folder, component="caser", params={"dim": 8})
    with pytest.raises(LlaraError, match="missing .*horizontal_cnn.*unexpected .*gru"):
        load_item_encoder(folder)


def test_bad_config_fields(tmp_path):
    folder = _saved(tmp_path)
    _edit_config(folder, component="no-such-encoder")
    with pytest.raises(UnknownComponentError, match="no-such-encoder"):
        load_item_encoder(folder)
    _edit_config(folder, component="gru4rec", params={"dim": -1})
    with pytest.raises(LlaraError, match="params.dim"):
        load_item_encoder(folder)
    _edit_config(folder, params={"dim": 8}, n_items="ten")
    with pytest.raises(LlaraError, match="'n_items' must be a positive integer"):
        load_item_encoder(folder)
    (folder / "model.safetensors").unlink()
    _edit_config(folder, n_items=10)
    with pytest.raises(LlaraError, match="model.safetensors: not found"):
        load_item_encoder(folder)
    with pytest.raises(LlaraError, match="config.json: not found"):
        load_item_encoder(tmp_path / "nowhere")


def test_corrupt_weights_file(tmp_path):
    folder = _saved(tmp_path)
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(LlaraError, match="not a readable safetensors file"):
        load_item_encoder(folder)


def test_the_config_validator_reads_a_saved_checkpoint(tmp_path):
    folder = _saved(tmp_path)
    assert not [e for e in validate_components({"item_encoder": {"checkpoint": str(folder)}}) if e[0].startswith("item_encoder")]
    errors = validate_components({"item_encoder": {"name": "sasrec", "checkpoint": str(folder)}})
    assert ("item_encoder.name", "'sasrec' does not match the checkpoint's 'gru4rec'") in errors
