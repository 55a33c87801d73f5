"""Rule names and the kernel constants they select."""

from __future__ import annotations

from tracer.errors import InputError
from tracer.kernels.trace import FIFO, HAIRCUT, LIBR, LIFO, MATCH, POISON

__all__ = ["RULES", "CONSERVED", "FALLBACKS", "rule_code"]

RULES: dict[str, int] = {
    "poison": POISON,
    "haircut": HAIRCUT,
    "fifo": FIFO,
    "lifo": LIFO,
    "libr": LIBR,
    "match": MATCH,
}
CONSERVED = frozenset({"haircut", "fifo", "lifo", "libr", "match"})
FALLBACKS = ("fifo", "lifo", "haircut", "libr")  # what match may leave to another rule


def rule_code(name: str) -> int:
    try:
        return RULES[name]
    except KeyError:
        raise InputError(
            f"--rule {name}: unknown rule. Choose one of {', '.join(RULES)}."
        ) from None
