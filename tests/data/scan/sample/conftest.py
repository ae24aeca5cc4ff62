import uuid

import pytest


@pytest.fixture
def random_id() -> str:
    return uuid.uuid4().hex
