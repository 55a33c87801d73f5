"""tracer: trace the proceeds of scams through bank accounts and crypto wallets."""

__version__ = "0.1.0"

__all__ = ["__version__"]
