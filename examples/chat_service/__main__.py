"""Run the example service: `python -m examples.chat_service [--port 8000] [--enforce RULE ...]`.

Spans go to the console when OTEL_TRACES_EXPORTER=console, otherwise nowhere; metrics are served
at /metrics (OpenMetrics with exemplars when the scraper asks for it).
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    import uvicorn
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    from examples.chat_service.app import create_app

    parser = argparse.ArgumentParser(prog="python -m examples.chat_service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--enforce", nargs="*", default=None, metavar="RULE")
    args = parser.parse_args()

    provider = TracerProvider()
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    app = create_app(enforce=args.enforce, tracer_provider=provider)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
