import uuid


def check_create_returns_an_id():
    fixture_id = str(uuid.uuid4())
    assert fixture_id
