import uuid


def job_key(name: str) -> str:
    return f"{name}:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
