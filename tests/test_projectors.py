"""Projectors: shapes, gradients and the exact maps, for every registered projector."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llara_core.errors import ConfigError
from llara_core.slots import PROJECTORS

ALL = PROJECTORS.names()


def build(name: str, in_dim: int = 6, out_dim: int = 10, **params):
    if name == "identity":
        out_dim = in_dim
    return PROJECTORS.build(name, params, in_dim=in_dim, out_dim=out_dim)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
def test_every_projector_maps_the_last_dimension(name, lead):
    torch.manual_seed(0)
    proj = build(name)
    assert isinstance(proj, PROJECTORS.interface)
    x = torch.randn(*lead, proj.in_dim)
    y = proj(x)
    assert y.shape == (*lead, proj.out_dim) and y.dtype == torch.float32
    # each position is mapped on its own: projecting one row alone gives the same row
    if lead:
        flat = x.reshape(-1, proj.in_dim)
        torch.testing.assert_close(proj(flat[:1]), y.reshape(-1, proj.out_dim)[:1])


@pytest.mark.parametrize("name", ALL)
def test_every_projector_is_fully_trainable_and_follows_the_dtype(name):
    torch.manual_seed(0)
    proj = build(name)
    x = torch.randn(4, proj.in_dim, requires_grad=True)
    proj(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, param in proj.named_parameters():
        assert param.requires_grad, pname
        assert param.grad is not None and param.grad.abs().sum() > 0, pname
    proj = proj.to(torch.float64)
    assert proj(torch.randn(3, proj.in_dim, dtype=torch.float64)).dtype == torch.float64


def test_mlp_is_llaras_linear_gelu_linear():
    torch.manual_seed(0)
    proj = build("mlp", in_dim=64, out_dim=32)
    linears = [m for m in proj.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 32)]  # hidden = H
    assert sum(p.numel() for p in proj.parameters()) == 64 * 32 + 32 + 32 * 32 + 32
    x = torch.randn(3, 7, 64)
    w1, w2 = linears
    expected = F.linear(F.gelu(F.linear(x, w1.weight, w1.bias)), w2.weight, w2.bias)
    torch.testing.assert_close(proj(x), expected)


def test_mlp_hidden_dim_and_dropout():
    proj = build("mlp", in_dim=8, out_dim=16, hidden_dim=5, dropout=0.5)
    linears = [m for m in proj.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 5), (5, 16)]
    x = torch.randn(64, 8)
    proj.eval()
    torch.testing.assert_close(proj(x), proj(x))
    proj.train()
    torch.manual_seed(1)
    a = proj(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, proj(x))


def test_linear_is_an_affine_map():
    torch.manual_seed(0)
    proj = build("linear", in_dim=4, out_dim=3)
    x = torch.randn(5, 4)
    (weight, bias) = (proj.proj.weight, proj.proj.bias)
    torch.testing.assert_close(proj(x), x @ weight.T + bias)
    no_bias = build("linear", in_dim=4, out_dim=3, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == ["proj.weight"]
    torch.testing.assert_close(no_bias(torch.zeros(2, 4)), torch.zeros(2, 3))


def test_identity_passes_through_and_refuses_different_sizes():
    proj = build("identity", in_dim=6)
    x = torch.randn(2, 6)
    assert torch.equal(proj(x), x)
    assert list(proj.parameters()) == []
    with pytest.raises(ConfigError, match=r"item encoder dim \(6\) .* hidden size \(10\)"):
        PROJECTORS.build("identity", in_dim=6, out_dim=10)
