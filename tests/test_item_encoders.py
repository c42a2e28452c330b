"""The built-in item encoders (sasrec, gru4rec, caser): shapes, padding, params, determinism."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from llara_core.interfaces import ItemEncoder
from llara_core.slots import ITEM_ENCODERS

#: every item encoder llara itself registers (new built-ins are tested without editing this file)
BUILTINS = [n for n in ITEM_ENCODERS.names() if ITEM_ENCODERS.provider(n).distribution == "llara"]
N_ITEMS = 50


def build(name: str, **params) -> ItemEncoder:
    return ITEM_ENCODERS.build(name, params, n_items=N_ITEMS)


def histories(batch: int = 12, length: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-aligned histories of every length 1..length padded with N_ITEMS, plus two empty ones
    (one padding position, length 1)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.arange(batch) % length + 1
    hist = torch.full((batch, length), N_ITEMS, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        hist[i, :n] = torch.randint(0, N_ITEMS, (n,), generator=g)
    hist[-2:] = N_ITEMS
    lengths[-2:] = 1
    return hist, lengths


@pytest.mark.parametrize("name", BUILTINS)
def test_registered_from_our_distribution(name):
    assert ITEM_ENCODERS.provider(name).distribution == "llara"
    assert issubclass(ITEM_ENCODERS.resolve(name)[0], ItemEncoder)


@pytest.mark.parametrize("name", BUILTINS)
def test_shapes_and_defaults(name):
    enc = build(name)
    assert (enc.dim, enc.history_len, enc.n_items, enc.pad_id) == (64, 10, N_ITEMS, N_ITEMS)
    hist, lengths = histories()
    assert enc.score(hist, lengths).shape == (12, N_ITEMS)
    assert enc(hist[:, :7].clamp(max=N_ITEMS), lengths.clamp(max=7)).shape == (12, N_ITEMS)
    assert enc.embed_items(torch.zeros(2, 3, 4, dtype=torch.long)).shape == (2, 3, 4, 64)
    assert enc.item_embeddings.weight.shape == (N_ITEMS + 1, 64)


@pytest.mark.parametrize("name", BUILTINS)
def test_hyperparameters_round_trip(name):
    enc = build(name, dim=16, history_len=6)
    hp = enc.hyperparameters()
    assert hp == ITEM_ENCODERS.validate_params(name, {"dim": 16, "history_len": 6}).model_dump()
    again = ITEM_ENCODERS.build(name, hp, n_items=N_ITEMS)
    assert again.hyperparameters() == hp


@pytest.mark.parametrize("name", BUILTINS)
def test_unknown_params_are_rejected(name):
    with pytest.raises(ValidationError, match="extra"):
        ITEM_ENCODERS.validate_params(name, {"hidden": 64})


def test_params_constraints():
    with pytest.raises(ValidationError, match="divisible"):
        ITEM_ENCODERS.validate_params("sasrec", {"dim": 10, "num_heads": 3})
    with pytest.raises(ValidationError, match="filter heights"):
        ITEM_ENCODERS.validate_params("caser", {"history_len": 3, "filter_sizes": [2, 4]})


@pytest.mark.parametrize("name", BUILTINS)
def test_padding_receives_no_gradient(name):
    enc = build(name)
    hist, lengths = histories()
    torch.manual_seed(0)
    for train_mode in (True, False):  # with dropout, and without (then every real item learns)
        enc.train(train_mode).zero_grad()
        enc.score(hist, lengths).logsumexp(1).sum().backward()
        grad = enc.item_embeddings.weight.grad
        assert torch.count_nonzero(grad[N_ITEMS]) == 0
    used = hist[hist != N_ITEMS].unique()
    assert torch.count_nonzero(grad[used].abs().sum(1)) == len(used)


@pytest.mark.parametrize("name", BUILTINS)
def test_padding_content_and_width_do_not_change_scores(name):
    enc = build(name).eval()
    hist, lengths = histories()
    with torch.no_grad():
        before = enc.score(hist, lengths)
        enc.item_embeddings.weight[N_ITEMS] = torch.randn(64) * 10
        after = enc.score(hist, lengths)
        short = hist[:, : int(lengths.max())]  # less trailing padding
        trimmed = enc.score(short, lengths)
    torch.testing.assert_close(before, after)
    torch.testing.assert_close(before, trimmed, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", BUILTINS)
def test_history_order_matters(name):
    """A real sequence model: reversing the items of a history changes its scores."""
    enc = build(name).eval()
    hist = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        a = enc.score(hist, torch.tensor([10]))
        b = enc.score(hist.flip(1), torch.tensor([10]))
    assert not torch.allclose(a, b)


def test_sasrec_never_attends_to_padding():
    enc = build("sasrec").eval()
    hist, lengths = histories()
    valid = hist != N_ITEMS
    with torch.no_grad():
        seq = enc.item_embeddings(hist) * valid.unsqueeze(-1)
        weights = enc.mh_attn.weights(enc.ln_1(seq), seq, valid)[:, 0]  # (B, L, L)
    real_query = valid.unsqueeze(2)
    padded_key = (~valid).unsqueeze(1)
    assert weights[(real_query & padded_key).expand_as(weights)].abs().max() == 0
    future = torch.ones(10, 10, dtype=torch.bool).triu(1)
    assert weights[:, future].abs().max() == 0
    sums = weights.sum(-1)[valid]
    torch.testing.assert_close(sums, torch.ones_like(sums))


def test_sasrec_keeps_reference_parameter_names():
    keys = set(build("sasrec").state_dict())
    expected = {"item_embeddings.weight", "positional_embeddings.weight", "s_fc.weight", "s_fc.bias"}
    expected |= {f"ln_{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    expected |= {f"mh_attn.linear_{x}.{p}" for x in "qkv" for p in ("weight", "bias")}
    expected |= {f"feed_forward.{m}.{p}" for m in ("w_1", "w_2", "layer_norm") for p in ("weight", "bias")}
    assert keys == expected
    assert build("sasrec").state_dict()["feed_forward.w_1.weight"].shape == (64, 64, 1)


@pytest.mark.parametrize("name", BUILTINS)
def test_seeded_construction_is_deterministic(name):
    torch.manual_seed(3)
    a = build(name).state_dict()
    torch.manual_seed(3)
    b = build(name).state_dict()
    torch.manual_seed(4)
    c = build(name).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["item_embeddings.weight"], c["item_embeddings.weight"])


@pytest.mark.parametrize("name", BUILTINS)
def test_too_long_history_is_refused(name):
    enc = build(name, history_len=4)
    with pytest.raises(ValueError, match="exceeds history_len 4"):
        enc.score(torch.zeros(1, 5, dtype=torch.long), torch.tensor([5]))
