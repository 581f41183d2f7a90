"""FLOP formulas reproduce SPEC §8's tables; the per-operation helpers count as documented."""
from __future__ import annotations

import pytest

from oscbench.benchmark import flops

TRACE_TBPTT = {(2, 13): 4056, (3, 10): 3680, (5, 8): 4032, (8, 6): 4104, (10, 5): 3960, (15, 4): 4352,
               (20, 3): 4032, (30, 2): 3720}   # (k, H) -> FLOPs, n = 12


@pytest.mark.parametrize("kh,want", sorted(TRACE_TBPTT.items()))
def test_trace_tbptt_table(kh, want):
    k, H = kh
    assert flops.tbptt(12, H, k) == want


def test_trace_column_networks_table():
    assert flops.hybrid(12, 20, 4) == 4048
    assert flops.constructive(12, 10) == 1152
    assert flops.columnar(12, 5) == 1960
    assert flops.columnar(12, 7) == 2744
    assert flops.tbptt(12, hidden=10, truncation=20) == 19320      # Fig. 6


def test_atari_table():
    assert flops.hybrid(275, 15, 5) == 51030
    assert flops.columnar(275, 7) == 54292
    assert flops.columnar(275, 6) == 46536
    assert flops.constructive(275, 10) == 17984
    assert flops.constructive(275, 30) == 41904
    # P's Atari T-BPTT list "15:2, 8:5, 5:8, 4:10, 2:25" read as H:k
    got = [round(flops.tbptt(275, H, k) / 100) / 10 for H, k in ((15, 2), (8, 5), (5, 8), (4, 10), (2, 25))]
    assert got == [52.4, 54.5, 50.6, 49.3, 57.8]
    assert flops.tbptt(275, hidden=25, truncation=2) > 90_000                # read as k:H it would not fit


def test_formula_structure():
    # columnar: forward T(4n+8), learning 6x that
    assert flops.columnar(12, 5) == 7 * 5 * (4 * 12 + 8)
    # constructive is the hybrid formula with one column per stage
    for n, T in ((12, 10), (275, 30), (7, 3)):
        assert flops.constructive(n, T) == flops.hybrid(n, T, 1)
    # T-BPTT grows linearly in the window length
    assert flops.tbptt(12, 2, 31) - flops.tbptt(12, 2, 30) == flops.tbptt(12, 2, 0)


def test_counting_helpers():
    assert flops.matvec(12, 8) == 96
    assert flops.matvec(12, 8, bias=True) == 104
    assert flops.elementwise(8) == 8 and flops.elementwise(8, ops=3) == 24
    fc = flops.FlopCount().add("forward", flops.matvec(12, 8, bias=True)).add("tanh", flops.elementwise(8))
    assert fc.total == int(fc) == 112 and fc.terms["forward"] == 104
    with pytest.raises(ValueError):
        fc.add("bad", -1)
    # an LSTM layer's forward counted with the rules equals the per-step term of the T-BPTT formula
    n, H = 12, 2
    lstm_forward = flops.matvec(n, 4 * H) + flops.matvec(H, 4 * H) + 4 * H
    assert lstm_forward * (30 + 1) == flops.tbptt(n, H, 30)


@pytest.mark.parametrize("n,T,U", [(12, 20, 4), (12, 10, 1), (275, 15, 5), (5, 7, 3)])
def test_stage_work_counts_the_parameters(n, T, U):
    """hybrid_stage_work = every column's parameters (the forward's multiply-accumulates) + 6x the
    learning stage's, counted independently from a learner's parameter views."""
    from oscbench.baselines import make_learner
    st = make_learner("hybrid", n, seed=0, n_columns=T, columns_per_stage=U).state
    size = [sum(p.size for p in st.column_params(0, k).values()) for k in range(T)]
    S = -(-T // U)
    for s in range(S + 1):
        learning = sum(size[s * U:(s + 1) * U]) if s < S else 0
        assert flops.hybrid_stage_work(n, T, U, s) == sum(size) + 6 * learning
