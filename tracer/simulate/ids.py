"""Identifiers made fast and reproducibly: transaction hashes from integer ids, addresses and
account numbers from a random generator, built as Arrow string arrays straight from bytes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = [
    "mix64",
    "hashes",
    "hex_words",
    "fixed",
    "tron_addresses",
    "eth_addresses",
    "btc_addresses",
    "account_numbers",
    "BASE58",
]

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
BASE58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", np.uint8)
_BECH32 = np.frombuffer(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l", np.uint8)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over uint64 (wrapping arithmetic, vectorised)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_HEX_PAIRS = np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1)


def hex_words(words: np.ndarray) -> np.ndarray:
    """(n, k) uint64 -> (n, 16k) uint8 ASCII hex digits (a byte's two digits at a time, most
    significant first)."""
    n, k = words.shape
    octets = np.ascontiguousarray(words, ">u8").view(np.uint8).reshape(n, 8 * k)
    return _HEX_PAIRS[octets].reshape(n, 16 * k)


def fixed(prefix: bytes, body: np.ndarray) -> pa.Array:
    """A string array of ``prefix`` + each row of ``body`` ((n, L) uint8 ASCII)."""
    n, width = body.shape
    p = len(prefix)
    data = np.empty((n, p + width), np.uint8)
    if p:
        data[:, :p] = np.frombuffer(prefix, np.uint8)
    data[:, p:] = body
    size = p + width
    if n * size < 2**31:
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(size)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    offsets64 = np.arange(n + 1, dtype=np.int64) * size
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets64), pa.py_buffer(data))


def hashes(ids: np.ndarray, salt: int, prefix: bytes = b"") -> pa.Array:
    """64 hex digits per id, a fixed function of (id, salt): the same id always gets the same
    hash, so a transfer's hash is known wherever its id is."""
    base = ids.astype(np.uint64) * np.uint64(4) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    words = np.stack([mix64(base + np.uint64(j)) for j in range(4)], axis=1)
    return fixed(prefix, hex_words(words))


def _pick(rng: np.random.Generator, alphabet: np.ndarray, n: int, width: int) -> np.ndarray:
    return alphabet[rng.integers(0, alphabet.shape[0], size=(n, width))]


def tron_addresses(rng: np.random.Generator, n: int, prefix: bytes = b"") -> pa.Array:
    """``T`` + 33 base58 characters (the shape Tron addresses have; no checksum)."""
    return fixed(prefix + b"T", _pick(rng, BASE58, n, 33))


def eth_addresses(rng: np.random.Generator, n: int, prefix: bytes = b"") -> pa.Array:
    """``0x`` + 40 lower-case hex digits."""
    return fixed(prefix + b"0x", _pick(rng, _HEX, n, 40))


def btc_addresses(rng: np.random.Generator, n: int, prefix: bytes = b"") -> pa.Array:
    """Bech32-shaped P2WPKH addresses: ``bc1q`` + 38 characters of the bech32 alphabet."""
    return fixed(prefix + b"bc1q", _pick(rng, _BECH32, n, 38))


def account_numbers(start: int, n: int, key: int) -> np.ndarray:
    """``n`` distinct 10-digit account numbers (int64): an affine bijection of 0..10^10-1,
    so numbers never repeat within one bank and look random."""
    i = np.arange(start, start + n, dtype=np.int64)
    a = 7_919_813_411 + 2 * (key % 1000)  # odd and not a multiple of 5: coprime with 10^10
    if a % 5 == 0:
        a += 2
    return (i * a + 1_234_567_891 * (key + 1)) % 10_000_000_000
