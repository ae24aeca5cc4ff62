"""The agent behind `id-monitor run`: one run loop (`loop`), its health and metrics endpoint
(`health`) and the optional worker processes (`workers`)."""

from id_monitor.agent.loop import STDIN_SOURCE, Agent, AgentState, InProcess, kafka_source_label

__all__ = ["STDIN_SOURCE", "Agent", "AgentState", "InProcess", "kafka_source_label"]
