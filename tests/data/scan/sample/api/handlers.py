"""Request handlers: a mix of every import form and pattern (uuid.uuid4() in a docstring is not a site)."""

import uuid
from uuid import uuid4

# uuid.uuid4() in a comment is not a site either
NOT_A_SITE = "uuid.uuid4()"


class UserHandler:
    def create(self, payload: dict) -> dict:
        user_id = str(uuid.uuid4())
        session = uuid4().hex[:8]
        return {"id": user_id, "session": session}

    def trace(self) -> str:
        return f"req_{uuid4()}"


def legacy_thread() -> str:
    return uuid4().hex
