"""id-monitor: see which ID formats flow where, and be paged on violations.

Data flows one way: sources -> extract -> classify -> judge -> sinks.
Importing this package has no side effects; heavy parts (Kafka, OpenTelemetry)
are imported only by the modules that need them.
"""

__version__ = "0.1.0"
