"""LLaRA's released SASRec weights: import, and equality with the reference forward."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from llara_core.errors import LlaraError
from llara_core.sr.checkpoint import load_item_encoder
from llara_core.sr.llara_weights import import_llara_sasrec
from tests.shared_data import shared_data_path


def reference_forward(w: dict[str, torch.Tensor], states: torch.Tensor, len_states: torch.Tensor, n_items: int) -> torch.Tensor:
    """LLaRA's SASRec forward in eval mode, written step by step from the reference module:
    masks come from the tensors' sums (as in the reference), masked scores are replaced by
    -2**32 + 1, one head, scores divided by sqrt(hidden)."""
    hidden = w["item_embeddings.weight"].shape[1]

    def layer_norm(x, name):
        return F.layer_norm(x, (hidden,), w[f"{name}.weight"], w[f"{name}.bias"], eps=1e-5)

    def linear(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    inputs_emb = w["item_embeddings.weight"][states]
    inputs_emb = inputs_emb + w["positional_embeddings.weight"][torch.arange(states.shape[1])]
    seq = inputs_emb  # dropout is the identity in eval mode
    mask = (states != n_items).float().unsqueeze(-1)
    seq = seq * mask
    queries, keys = layer_norm(seq, "ln_1"), seq
    q, k, v = linear(queries, "mh_attn.linear_q"), linear(keys, "mh_attn.linear_k"), linear(keys, "mh_attn.linear_v")
    scores = torch.bmm(q, k.transpose(1, 2)) / hidden**0.5
    key_mask = torch.sign(torch.abs(keys.sum(-1))).unsqueeze(1).repeat(1, queries.shape[1], 1)
    scores = torch.where(key_mask == 0, torch.full_like(scores, -(2**32) + 1), scores)
    tril = torch.tril(torch.ones(scores.shape[1], scores.shape[2])).unsqueeze(0).expand_as(scores)
    scores = torch.where(tril == 0, torch.full_like(scores, -(2**32) + 1), scores)
    attn = torch.softmax(scores, dim=-1)
    query_mask = torch.sign(torch.abs(queries.sum(-1))).unsqueeze(2).repeat(1, 1, keys.shape[1])
    attn = attn * query_mask
    mh_out = torch.bmm(attn, v) + queries
    x = layer_norm(mh_out, "ln_2")
    h = F.conv1d(x.transpose(1, 2), w["feed_forward.w_1.weight"], w["feed_forward.w_1.bias"])
    h = F.conv1d(F.relu(h), w["feed_forward.w_2.weight"], w["feed_forward.w_2.bias"]).transpose(1, 2)
    ff = layer_norm(h + x, "feed_forward.layer_norm")
    ff = layer_norm(ff * mask, "ln_3")
    state_hidden = ff[torch.arange(states.shape[0]), len_states - 1]
    return linear(state_hidden, "s_fc")


def random_histories(n_items: int, batch: int, length: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Histories of every length 1..length (and empty ones, stored as length 1), padded at the end."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    states = torch.full((batch, length), n_items, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        states[i, :n] = torch.randperm(n_items, generator=g)[:n]
    states[:3] = n_items  # empty histories: all padding, length 1 (as in LLaRA's train split)
    lengths[:3] = 1
    return states, lengths


@pytest.mark.parametrize("dataset", ["movielens", "lastfm"])
def test_imported_sasrec_equals_reference_forward(dataset, tmp_path):
    path = shared_data_path("llara", "rec_models", f"sasrec_{dataset}.safetensors")
    folder = import_llara_sasrec(path, tmp_path / "model", dataset=dataset)
    encoder, config = load_item_encoder(folder)
    weights = load_file(str(path))
    n_items = weights["item_embeddings.weight"].shape[0] - 1
    assert config["component"] == "sasrec" and config["n_items"] == n_items and config["data_hash"] is None
    assert config["params"] == {"dim": 64, "history_len": 10, "num_heads": 1, "dropout": 0.1}
    assert config["source"]["file"] == path.name and len(config["source"]["sha256"]) == 64
    states, lengths = random_histories(n_items, 256)
    with torch.no_grad():
        ours = encoder.score(states, lengths)
        ref = reference_forward(weights, states, lengths, n_items)
    assert ours.shape == (256, n_items)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    # the behaviour embeddings LLaRA feeds its projector are the raw item_embeddings rows
    ids = torch.tensor([[0, 5, n_items - 1]])
    torch.testing.assert_close(encoder.embed_items(ids), weights["item_embeddings.weight"][ids])


def _write_fake(path, n_items=7, dim=4, history_len=3, metadata=None):
    from llara_core.slots import ITEM_ENCODERS

    enc = ITEM_ENCODERS.build("sasrec", {"dim": dim, "history_len": history_len}, n_items=n_items)
    save_file({k: v.contiguous() for k, v in enc.state_dict().items()}, str(path), metadata=metadata)
    return enc


def test_import_infers_sizes_from_shapes(tmp_path):
    _write_fake(tmp_path / "w.safetensors", metadata={"num_heads": "2", "dropout": "0.25"})
    folder = import_llara_sasrec(tmp_path / "w.safetensors", tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    assert config["n_items"] == 7
    assert config["params"] == {"dim": 4, "history_len": 3, "num_heads": 2, "dropout": 0.25}


def test_import_rejects_metadata_that_contradicts_shapes(tmp_path):
    _write_fake(tmp_path / "w.safetensors", metadata={"item_num": "99"})
    with pytest.raises(LlaraError, match="item_num='99' disagrees"):
        import_llara_sasrec(tmp_path / "w.safetensors", tmp_path / "m")


def test_import_rejects_a_pickle_and_a_foreign_state_dict(tmp_path):
    pickled = tmp_path / "model.pt"
    torch.save({"x": torch.zeros(1)}, pickled)
    with pytest.raises(LlaraError, match="not a safetensors file"):
        import_llara_sasrec(pickled, tmp_path / "m")
    save_file({"weight": torch.zeros(2, 2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(LlaraError, match="missing item_embeddings.weight"):
        import_llara_sasrec(tmp_path / "other.safetensors", tmp_path / "m")


def test_reference_forward_is_not_trivially_equal(tmp_path):
    """The comparison above can fail: perturbing one attention weight changes the reference."""
    enc = _write_fake(tmp_path / "w.safetensors", n_items=11, dim=8, history_len=5)
    weights = {k: v.clone() for k, v in enc.state_dict().items()}
    states, lengths = random_histories(11, 16, length=5)
    ref = reference_forward(weights, states, lengths, 11)
    weights["mh_attn.linear_k.weight"][0, 0] += 1.0
    assert not torch.allclose(ref, reference_forward(weights, states, lengths, 11))
    assert math.isfinite(float(ref.abs().max()))
