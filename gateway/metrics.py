"""Every Prometheus metric palm exports, in one place.

Counters and histograms are per process (Prometheus sums them across processes).
Gauges about the queue and the outbox must be the same from every process, so they
are read from Redis at scrape time by collectors registered with ``REGISTRY``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway import __version__

REGISTRY = CollectorRegistry(auto_describe=True)

BUILD_INFO = Gauge("palm_build_info", "Palm Gateway build", ["version"], registry=REGISTRY)
BUILD_INFO.labels(version=__version__).set(1)

PLATFORM_UP = Gauge(
    "palm_platform_up",
    "Whether the platform answers (1) or not (0)",
    ["platform"],
    registry=REGISTRY,
)

DELIVERIES = Counter(
    "palm_deliveries_total", "Deliveries by outcome", ["platform", "result"], registry=REGISTRY
)
DELIVERY_SECONDS = Histogram(
    "palm_delivery_seconds",
    "From an announcement being accepted to its delivery being sent",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "palm_rate_limited_total", "429 answers received", ["platform"], registry=REGISTRY
)
INBOUND = Counter(
    "palm_inbound_total", "Inbound messages by kind", ["platform", "kind"], registry=REGISTRY
)
INBOUND_MALFORMED = Counter(
    "palm_inbound_malformed_total",
    "Inbound updates or events that could not be normalised (each also logged at warning)",
    ["platform"],
    registry=REGISTRY,
)
FUNNEL_DEAD_LETTERS = Counter(
    "palm_funnel_dead_letters_total",
    "Inbound entries the funnel parked instead of handling (palm queue dead-letters)",
    registry=REGISTRY,
)
CONFIRMATIONS = Counter(
    "palm_confirmations_total",
    "Residents' first confirmation of a notice",
    ["platform"],
    registry=REGISTRY,
)
POLL_VOTES = Counter(
    "palm_poll_votes_total",
    "Poll votes counted (new, changed or retracted)",
    ["platform"],
    registry=REGISTRY,
)
FIRST_RESPONSE_SECONDS = Histogram(
    "palm_ticket_first_response_seconds",
    "From a ticket arriving to its first staff reply",
    buckets=(30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400),
    registry=REGISTRY,
)
INBOUND_LIMITED = Counter(
    "palm_inbound_limited_total",
    "Inbound messages held back by a flood limit (reason: tickets, messages, acks, help)",
    ["platform", "reason"],
    registry=REGISTRY,
)
TELEGRAM_AMBIGUOUS = Counter(
    "palm_telegram_ambiguous_sends_total",
    "Telegram sends that timed out after the request may have reached Telegram",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "palm_queue_depth", "Tickets by status (read from Redis)", ["status"], registry=REGISTRY
)
QUEUE_OLDEST_AGE = Gauge(
    "palm_queue_oldest_age_seconds",
    "Age of the oldest ticket in that status (read from Redis; 0 when there is none)",
    ["status"],
    registry=REGISTRY,
)
MATRIX_UNDECRYPTABLE = Counter(
    "palm_matrix_undecryptable_total",
    "Encrypted Matrix events kept because their room key had not arrived (retried later)",
    registry=REGISTRY,
)
