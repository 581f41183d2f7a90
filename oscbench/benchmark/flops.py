"""FLOP accounting: the declared per-step cost of a learner (prediction *and* learning).

A learner declares its cost with ``flops_per_step()``; the evaluator compares it with the task's
``budget_flops`` (:mod:`oscbench.benchmark.tasks`: trace patterning 4,400, Atari 55,000 per step).

Counting rules (the convention behind SPEC §8's formulas; use them for any learner)
----------------------------------------------------------------------------------
1. **Multiply-accumulate = 1.** Each product that is summed into an accumulator (a dot product, a
   matrix-vector product, an outer-product update of a trace) counts 1 FLOP; a dense map with
   ``m`` inputs and ``k`` outputs costs ``m·k`` (:func:`matvec`), plus ``k`` for its biases.
2. **Elementwise = 1 per operation per element**: add, subtract, multiply, divide, min/max,
   compare, and each nonlinearity (σ, tanh, exp, log, sqrt, 1/x) (:func:`elementwise`).
3. **Count the whole step**: the forward pass that produces V_t *and* everything learning does
   (traces, gradients, optimiser). Work that is skipped (e.g. frozen parameters) is not counted;
   work every step pays on average is counted at its average (amortised).
4. Integer / index arithmetic, copies, memory traffic and random-number generation are free.
5. Round up to an integer; declare the worst step of a stationary phase, not the cheapest.

The reference learners declare SPEC §8's closed forms (``n`` inputs, ``T`` = H columns,
``U`` columns per stage, ``k`` truncation, ``H`` hidden units):

=============  ==============================================
T-BPTT         (k + 1)·(4H² + 4Hn + 4H)
columnar       7T·(4n + 8)  (forward T·(4n+8), learning 6× that)
hybrid         T·(2T + 4n + 4) + 6U·(2T + 4n + 4)
constructive   hybrid with U = 1
=============  ==============================================

Examples (SPEC §8's tables, reproduced by ``tests/test_flops.py``): hybrid 20 columns × 4 per
stage, n = 12 → 4,048; T-BPTT k = 30, H = 2 → 3,720; Atari hybrid 15 × 5, n = 275 → 51,030.
"""
from __future__ import annotations

from collections import Counter as _Counter


# -- SPEC §8 closed forms for the reference learners -------------------------------------------
def tbptt(n: int, hidden: int, truncation: int) -> int:
    """T-BPTT LSTM with ``hidden`` units and truncation ``truncation``: (k+1)(4H² + 4Hn + 4H)."""
    H, k = hidden, truncation
    return (k + 1) * (4 * H * H + 4 * H * n + 4 * H)


def columnar(n: int, n_columns: int) -> int:
    """Columnar network (one stage): 7T(4n + 8)."""
    return 7 * n_columns * (4 * n + 8)


def hybrid(n: int, n_columns: int, columns_per_stage: int) -> int:
    """Hybrid network: T(2T + 4n + 4) + 6U(2T + 4n + 4)."""
    T, U = n_columns, columns_per_stage
    per = 2 * T + 4 * n + 4
    return T * per + 6 * U * per


def hybrid_stage_work(n: int, n_columns: int, columns_per_stage: int, stage: int) -> int:
    """Multiply-accumulates of one step while ``stage`` learns (a stage's columns read n + s·U signals):
    the forward of every column, 4(m + 2) each, plus 6× the learning stage's forward (SPEC §8's
    "learning 6× that"); after the last stage, the forward alone. Used to normalise speed along a
    staged run, whose work per step grows with the stage (``oscbench speed --long``)."""
    T, U = n_columns, columns_per_stage
    S = -(-T // U)
    fwd = sum(4 * (n + (k // U) * U + 2) for k in range(T))
    if stage >= S:
        return fwd
    return fwd + 6 * 4 * min(U, T - stage * U) * (n + stage * U + 2)


def constructive(n: int, n_columns: int) -> int:
    """Constructive network: the hybrid formula with one column per stage."""
    return hybrid(n, n_columns, 1)


# -- per-operation rules for anyone else's learner ----------------------------------------------
def matvec(n_in: int, n_out: int, *, bias: bool = False) -> int:
    """Rule 1: a dense map ``n_in -> n_out`` (plus ``n_out`` bias additions when ``bias``)."""
    return n_in * n_out + (n_out if bias else 0)


def elementwise(n: int, ops: int = 1) -> int:
    """Rule 2: ``ops`` elementwise operations on ``n`` elements."""
    return n * ops


class FlopCount:
    """A labelled tally, for learners that document their cost term by term.

    >>> fc = FlopCount(); fc.add("forward", matvec(12, 8, bias=True)); fc.add("tanh", elementwise(8))
    >>> fc.total
    112
    """

    def __init__(self) -> None:
        self.terms: _Counter[str] = _Counter()

    def add(self, label: str, flops: int) -> "FlopCount":
        if flops < 0:
            raise ValueError("a FLOP count cannot be negative")
        self.terms[label] += int(flops)
        return self

    @property
    def total(self) -> int:
        return sum(self.terms.values())

    def __int__(self) -> int:
        return self.total
