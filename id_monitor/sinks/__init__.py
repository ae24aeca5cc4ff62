"""Where judged results go: Prometheus metrics (`metrics`), violation records (`violations`),
span attributes and events (`spans`). Every sink shows IDs only through a `redact.Redactor`."""
