"""Rule names and the kernel constants they select."""

from __future__ import annotations

from tracer.errors import InputError
from tracer.kernels.trace import FIFO, HAIRCUT, LIBR, LIFO, POISON

__all__ = ["RULES", "CONSERVED", "rule_code"]

RULES: dict[str, int] = {"poison": POISON, "haircut": HAIRCUT, "fifo": FIFO, "lifo": LIFO,
                         "libr": LIBR}
CONSERVED = frozenset({"haircut", "fifo", "lifo", "libr"})


def rule_code(name: str) -> int:
    try:
        return RULES[name]
    except KeyError:
        raise InputError(f"--rule {name}: unknown rule. Choose one of {', '.join(RULES)}.") from None
