import secrets
import uuid as _uuid


def invoice_number() -> str:
    return secrets.token_hex(8)


def receipt_key() -> str:
    return _uuid.uuid4().hex  # id-monitor: ignore[uuid4] -- printed on paper receipts, kept on purpose


def shadowed(uuid4) -> str:
    return str(uuid4())
