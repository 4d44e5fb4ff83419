"""The audit trail lives with the store (dead-letter resolution writes it too); sign-in code uses it here."""

from shopfloor.store.audit import AUDIT, recent, record

__all__ = ["AUDIT", "recent", "record"]
