"""Prometheus metrics served on ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


class Metrics:
    """The bot's counters and histograms, in a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sms_bot_slack_requests",
            "Slack requests handled, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.sms = Counter(
            "sms_bot_sms", "SMS sends by outcome", ["outcome"], registry=self.registry
        )
        self.ack_latency = Histogram(
            "sms_bot_ack_seconds",
            "Time from request to ack",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sipgate_latency = Histogram(
            "sms_bot_sipgate_seconds",
            "sipgate send round trip",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scheduled_pending = Gauge(
            "sms_bot_scheduled_pending",
            "Scheduled sends waiting to fall due",
            registry=self.registry,
        )

    def observe_sipgate(self, outcome: str, seconds: float) -> None:
        """Count one send's outcome (its state) and how long sipgate took."""
        self.sms.labels(outcome=outcome).inc()
        self.sipgate_latency.observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


METRICS = Metrics()
