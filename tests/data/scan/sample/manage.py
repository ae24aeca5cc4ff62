"""Maintenance entry point at the root of the tree: service "(root)"."""

import uuid


def new_tenant_key() -> str:
    return uuid.uuid4().hex
