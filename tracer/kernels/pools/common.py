"""What every pool shares: the rule codes, the columns of a slot, the allocation record.

A *slot* is one account the taint reached, a row of ``si`` (int64) and ``sf`` (float64).
The event loop (``tracer.kernels.trace``) owns the columns about replay (``_ACC``, ``_IN``,
``_OUT``, ``_MINHOP``, ``_FIRST``, ``_FLAGS``, ``_TIN``, ``_TOUT``, ``_UNEXP``) and keeps a
dormant account's clean balance in ``_CLEAN``; a pool owns ``_HEAD``, ``_TAIL`` and ``_NT``
(its lots in the arena, and how many are tainted, or poison's flag), ``_CLEAN`` and ``_TAINT``
while the account is active.
"""

from __future__ import annotations

from numba import njit

from tracer.kernels.heap import _grow

POISON, HAIRCUT, FIFO, LIFO, LIBR, MATCH = 0, 1, 2, 3, 4, 5

_NONE = -1

# slot fields: ints
_ACC, _IN, _OUT, _HEAD, _TAIL, _NT, _MINHOP, _FIRST, _FLAGS = range(9)
# slot fields: floats (_TAINT is the balance b under poison; _NT its poisoned flag)
_CLEAN, _TAINT, _TIN, _TOUT, _UNEXP = range(5)
N_INT_FIELDS, N_FLOAT_FIELDS = 9, 5


@njit(cache=True, nogil=True)
def record(al, an, out_rank, in_rank, amount):
    """Allocation ``an``: outflow ``out_rank`` drew ``amount`` of the taint that arrived by
    ``in_rank``. ``al`` = (al_out, al_in, al_amt), grown as needed; returns (al, an + 1)."""
    al_out, al_in, al_amt = al
    al_out = _grow(al_out, an + 1)
    al_in = _grow(al_in, an + 1)
    al_amt = _grow(al_amt, an + 1)
    al_out[an] = out_rank
    al_in[an] = in_rank
    al_amt[an] = amount
    return (al_out, al_in, al_amt), an + 1


@njit(cache=True, nogil=True)
def record3(al_out, al_in, al_amt, an, out_rank, in_rank, amount):
    al_out = _grow(al_out, an + 1)
    al_in = _grow(al_in, an + 1)
    al_amt = _grow(al_amt, an + 1)
    al_out[an] = out_rank
    al_in[an] = in_rank
    al_amt[an] = amount
    return al_out, al_in, al_amt, an + 1
