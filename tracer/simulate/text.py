"""Lines of text made from columns of numbers, for the simulator's files.

A ``Line`` writes one line per row of a table of columns (``rows``: which rows, in which
order). A line is a list of pieces, each written for every row or only where a flag is set:
literal text, a string from a ``Pool``, a whole number, a fixed-point decimal, a zero-padded
number, or a transaction hash (the 64 hex digits of ``ids.hashes``). A string piece's column
holds indexes into the pool, shifted by ``base`` (where a table of strings starts).

``render`` writes a range of rows as bytes, a newline after each, in a numba kernel that
holds no GIL, so parts of a file are made on several threads at once; a part's bytes depend
on its rows only. Columns are read where they lie (the kernel gets their addresses; the
``Line`` keeps them alive), so nothing is copied to make a line.

Strings sit in slots of 64 bytes (the text, then its length in the last byte), so a string is
one cache line wherever it is, and copying one is a few word moves.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["Pool", "Line", "SLOT", "slots"]

SLOT = 64  # bytes per string: up to 63 of text, then the length
_AHEAD = 8  # rows: how far ahead the strings of a row are asked for
_LIT, _STR, _INT, _DEC, _DEC_BY, _PAD, _HASH = range(7)

_HEX_PAIRS = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), np.uint8)
_DIGIT_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), np.uint8)
_POW10 = np.array([10**k for k in range(20)], np.uint64)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def slots(strings) -> np.ndarray:
    """(n, SLOT) uint8 slots of a list of ``str`` (or ``bytes``) or an Arrow string array
    (nulls empty)."""
    if not isinstance(strings, pa.Array):
        strings = list(strings)
        kind = pa.binary() if strings and isinstance(strings[0], bytes) else pa.string()
        strings = pa.array(strings, kind)
    arr = pa.concat_arrays([strings.cast(pa.large_binary())])  # offset 0, one buffer
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[: n + 1]
    data = (
        np.frombuffer(arr.buffers()[2], np.uint8)
        if arr.buffers()[2] is not None
        else np.zeros(0, np.uint8)
    )
    if n and int(np.diff(offsets).max()) >= SLOT:
        raise ValueError(f"a string of more than {SLOT - 1} bytes for a pool")
    return _fill_slots(offsets, data)


class Pool:
    """Strings in slots of ``SLOT`` bytes, added a table at a time; ``add`` returns the index
    of a table's first string. Lines use it once complete (``data``)."""

    def __init__(self) -> None:
        self._tables: list[np.ndarray] = []
        self.size = 0
        self._frozen: np.ndarray | None = None

    def add(self, strings) -> int:
        """Append a list of ``str``, an Arrow string array (each under 64 bytes) or the
        ``slots`` of either."""
        if self._frozen is not None:
            raise ValueError("Pool.add after the pool was used; add every table first.")
        table = strings if isinstance(strings, np.ndarray) else slots(strings)
        if table.ndim != 2 or table.shape[1] != SLOT or table.dtype != np.uint8:
            raise ValueError(f"slots of {table.shape} {table.dtype}: expected (n, {SLOT}) uint8")
        self._tables.append(table)
        start = self.size
        self.size += table.shape[0]
        return start

    def data(self) -> np.ndarray:
        """The slots as one uint8 array; the pool takes no more tables after this."""
        if self._frozen is None:
            self._frozen = (
                np.concatenate(self._tables).reshape(-1)
                if self._tables
                else np.zeros(SLOT, np.uint8)
            )
            self._tables = []
        return self._frozen


def _int64(values) -> np.ndarray:
    return np.ascontiguousarray(values, np.int64)


class Line:
    """A line for each of ``rows`` (indexes into the columns, in the order to write; an int
    ``n`` for rows 0..n-1), built piece by piece. Columns are int64 (cast if not) and may be
    longer than ``rows``; ``when`` (a bool column) writes a piece only where it is true."""

    def __init__(self, pool: Pool, rows, *, guess: int = 64) -> None:
        self.pool = pool
        self.rows = _int64(np.arange(rows) if isinstance(rows, int | np.integer) else rows)
        self.n = self.rows.shape[0]
        self.guess = guess  # bytes per line, to size buffers
        # kind, column, argument, guard, base, suffix (a literal written after it)
        self._pieces: list[list[int]] = []
        self._arrays: list[np.ndarray] = []  # columns and flags, kept alive
        self._index: dict[int, int] = {}
        self._keep: list[object] = []  # what was passed, so that ids stay unique
        self._lits: list[bytes] = []
        self._need = int(self.rows.max()) + 1 if self.n else 0
        self._made: tuple | None = None  # the kernel's arguments, once rendered

    def _array(self, values, dtype) -> int:
        key = id(values)
        if key not in self._index:
            self._keep.append(values)
            arr = np.ascontiguousarray(values, dtype)
            if arr.ndim != 1 or arr.shape[0] < self._need:
                raise ValueError(f"a column of {arr.shape} for rows up to {self._need}")
            self._index[key] = len(self._arrays)
            self._arrays.append(arr)
        return self._index[key]

    def _add(self, kind: int, values, arg: int, when, base: int = 0) -> Line:
        col = -1 if values is None else self._array(values, np.int64)
        guard = -1 if when is None else self._array(when, np.bool_)
        self._pieces.append([kind, col, arg, guard, base, -1])
        self._made = None
        return self

    @staticmethod
    def _literal(pieces: list[list[int]], lits: list[bytes], text: bytes, guard: int) -> None:
        """Append a literal of at most SLOT - 1 bytes: to the piece before when it has the
        same guard (to its text, or as its suffix), else as a piece of its own."""
        last = pieces[-1] if pieces else None
        if last is not None and last[3] == guard:
            if last[0] == _LIT and len(lits[last[2]]) + len(text) < SLOT:
                lits[last[2]] += text
                return
            if last[0] != _LIT and last[5] < 0:
                lits.append(text)
                last[5] = len(lits) - 1
                return
        lits.append(text)
        pieces.append([_LIT, -1, len(lits) - 1, guard, 0, -1])

    def lit(self, text: str, *, when=None) -> Line:
        data = text.encode()
        guard = -1 if when is None else self._array(when, np.bool_)
        for k in range(0, len(data), SLOT - 1):  # long literals in several slots
            self._literal(self._pieces, self._lits, data[k : k + SLOT - 1], guard)
        self._made = None
        return self

    def text(self, index, *, base: int = 0, when=None) -> Line:
        """The pool's string at ``base`` + ``index``."""
        return self._add(_STR, index, 0, when, base)

    def int(self, values, *, when=None) -> Line:
        return self._add(_INT, values, 0, when)

    def dec(self, values, digits, *, when=None) -> Line:
        """``values`` / 10**digits as exact decimal text (``digits`` an int or a column),
        as ``v // 10**d``, a point, then ``v % 10**d`` in ``d`` digits."""
        if isinstance(digits, int | np.integer):
            return self._add(_DEC, values, int(digits), when)
        return self._add(_DEC_BY, values, self._array(digits, np.int64), when)

    def pad(self, values, width: int, *, when=None) -> Line:
        """Zero-padded to ``width`` digits at least (non-negative values)."""
        return self._add(_PAD, values, width, when)

    def hash(self, values, salt: int, *, when=None) -> Line:
        """``ids.hashes(values, salt)`` for each row."""
        salt &= 0xFFFFFFFFFFFFFFFF
        return self._add(_HASH, values, salt - (1 << 64) if salt >> 63 else salt, when)

    def render(
        self, lo: int = 0, hi: int | None = None, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        """Lines ``lo..hi`` as bytes, a newline after each: ``(buffer, size)``, the bytes
        being ``buffer[:size]``. ``out``: a buffer to write into (a larger one is made if
        it is too small)."""
        hi = self.n if hi is None else hi
        if not 0 <= lo <= hi <= self.n:
            raise ValueError(f"rows {lo}..{hi} of a line of {self.n}")
        if self._made is None:
            pieces, lits = [list(p) for p in self._pieces], list(self._lits)
            self._literal(pieces, lits, b"\n", -1)
            ahead = [k for k, p in enumerate(pieces) if p[0] == _STR]
            self._made = (
                np.array(pieces, np.int64).reshape(-1, 6),
                slots(lits).reshape(-1),
                np.array([a.ctypes.data for a in self._arrays] or [0], np.int64),
                np.array(ahead, np.int64),
            )
        spec, lits, where, ahead = self._made
        if out is None or out.shape[0] < 2 * SLOT:
            out = np.empty(max(4096, (hi - lo) * self.guess), np.uint8)
        return _render(
            self.rows,
            lo,
            hi,
            spec,
            where,
            ahead,
            lits,
            self.pool.data(),
            _HEX_PAIRS,
            _DIGIT_PAIRS,
            _POW10,
            out,
        )


# --- kernels ---------------------------------------------------------------------------------
# One function, without helpers that take arrays (passing arrays to a call costs reference
# counting per piece); bytes are moved by ``_copy``, an inline memcpy, and columns are read
# at their addresses by ``_load``.


@intrinsic
def _copy(typingctx, dst, dst_pos, src, src_pos, size):
    """``dst[dst_pos:dst_pos + size] = src[src_pos:src_pos + size]`` (uint8 arrays; no checks),
    as one memcpy: a few moves when ``size`` is a constant."""
    sig = types.void(dst, dst_pos, src, src_pos, size)

    def codegen(context, builder, signature, args):
        d, dp, s, sp, n = args
        da = context.make_array(signature.args[0])(context, builder, d)
        sa = context.make_array(signature.args[2])(context, builder, s)
        cgutils.raw_memcpy(builder, builder.gep(da.data, [dp]), builder.gep(sa.data, [sp]), n, 1)

    return sig, codegen


@intrinsic
def _prefetch(typingctx, array, i):
    """Ask for the cache line of ``array[i]`` (a hint: no load, no fault)."""
    sig = types.void(array, i)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.gep(data, [args[1]])
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])

    return sig, codegen


@intrinsic
def _load(typingctx, address, i):
    """The int64 at ``address + 8 i``."""
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        base = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        return builder.load(builder.gep(base, [args[1]]))

    return sig, codegen


@intrinsic
def _load_flag(typingctx, address, i):
    """The byte at ``address + i``, as a bool."""
    sig = types.boolean(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        base = builder.inttoptr(args[0], ir.IntType(8).as_pointer())
        byte = builder.load(builder.gep(base, [args[1]]))
        return builder.icmp_unsigned("!=", byte, ir.Constant(ir.IntType(8), 0))

    return sig, codegen


@intrinsic
def _clz(typingctx, x):
    """Leading zero bits of a uint64."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@njit(cache=True, nogil=True)
def _fill_slots(offsets, data):
    n = offsets.shape[0] - 1
    out = np.zeros((n, SLOT), np.uint8)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        for k in range(b - a):
            out[i, k] = data[a + k]
        out[i, SLOT - 1] = b - a
    return out


@njit(cache=True, nogil=True)
def _render(rows, lo, hi, spec, where, ahead, lits, pool, hex_pairs, pairs, p10, out):
    pos = 0
    for r in range(lo, hi):
        if r + _AHEAD < hi:  # the strings a later row takes (accounts: anywhere in the pool)
            j = rows[r + _AHEAD]
            for p in ahead:
                _prefetch(pool, (_load(where[spec[p, 1]], j) + spec[p, 4]) * SLOT)
        i = rows[r]
        for p in range(spec.shape[0]):
            kind, col, arg, guard = spec[p, 0], spec[p, 1], spec[p, 2], spec[p, 3]
            if guard >= 0 and not _load_flag(where[guard], i):
                continue
            if pos + 2 * SLOT > out.shape[0]:  # room for a piece (up to 64 bytes) and its suffix
                bigger = np.empty(2 * out.shape[0], np.uint8)
                _copy(bigger, 0, out, 0, pos)
                out = bigger
            if kind == 0:  # a literal's slot: copy all of it, keep its length
                _copy(out, pos, lits, arg * SLOT, SLOT)
                pos += lits[arg * SLOT + SLOT - 1]
                continue
            v = _load(where[col], i)
            v += spec[p, 4]
            if kind == 1:  # a string's slot
                _copy(out, pos, pool, v * SLOT, SLOT)
                pos += pool[v * SLOT + SLOT - 1]
            elif kind == 6:  # hash: four splitmix64 words of (v * 4 ^ salt) + j, as hex
                base = (np.uint64(v) * np.uint64(4)) ^ np.uint64(arg)
                for j in range(4):
                    z = base + np.uint64(j) + _GOLDEN
                    z = (z ^ (z >> np.uint64(30))) * _M1
                    z = (z ^ (z >> np.uint64(27))) * _M2
                    z = z ^ (z >> np.uint64(31))
                    for k in range(7, -1, -1):
                        _copy(out, pos + 16 * j + 2 * k, hex_pairs, 2 * (z & np.uint64(255)), 2)
                        z >>= np.uint64(8)
                pos += 64
            else:  # a number: sign, integer part (zero-padded to width), point and fraction
                q = v
                digits, width = 0, 1
                if kind == 3:
                    digits = arg
                elif kind == 4:
                    digits = _load(where[arg], i)
                elif kind == 5:
                    width = arg
                r10 = np.int64(0)
                if digits == 2 and q >= 0:  # cents: a division by a constant
                    r10 = np.int64(np.uint64(q) % np.uint64(100))
                    q = np.int64(np.uint64(q) // np.uint64(100))
                elif digits > 0:
                    scale = np.int64(p10[digits])
                    q, r10 = q // scale, q % scale
                if q < 0:
                    out[pos] = 45
                    pos += 1
                    q = -q
                u = np.uint64(q)
                t = ((64 - _clz(u | np.uint64(1))) * 1233) >> 12  # digits: t or t + 1
                m = max(t + (u >= p10[t]), 1, width)
                k = pos + m
                while k - 2 >= pos and u > np.uint64(0):
                    k -= 2
                    _copy(out, k, pairs, 2 * (u % np.uint64(100)), 2)
                    u //= np.uint64(100)
                for j in range(pos, k):  # leading zeros: of the padding, or of a last pair
                    out[j] = 48
                if k > pos and u > np.uint64(0):
                    out[pos] = 48 + u
                pos += m
                if digits > 0:
                    out[pos] = 46
                    ur = np.uint64(r10)
                    k = pos + 1 + digits
                    while k - 2 >= pos + 1:
                        k -= 2
                        _copy(out, k, pairs, 2 * (ur % np.uint64(100)), 2)
                        ur //= np.uint64(100)
                    if k > pos + 1:
                        out[pos + 1] = 48 + ur
                    pos += digits + 1
            if spec[p, 5] >= 0:  # the literal after the piece
                _copy(out, pos, lits, spec[p, 5] * SLOT, SLOT)
                pos += lits[spec[p, 5] * SLOT + SLOT - 1]
    return out, pos
