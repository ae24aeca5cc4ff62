"""An example FastAPI chat service in the platform's shape, instrumented with id-monitor."""

from examples.chat_service.app import create_app

__all__ = ["create_app"]
