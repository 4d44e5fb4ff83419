"""Configuration from SHOPFLOOR_* environment variables (or the matching command-line flags)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopfloor.events.models import event_topics as topics_of_event_types
from shopfloor.projections.calendar import Calendar
from shopfloor.projections.cutoffs import parse_cutoffs

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    kafka_bootstrap_servers: str | None = None
    kafka_group_id: str = "shopfloor-projector"
    kafka_session_timeout_ms: int = Field(default=10_000, ge=6_000)
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None

    database_url: str = "sqlite:///shopfloor.db"
    host: str = "127.0.0.1"
    port: int = 8000
    auth: Literal["on", "off"] | None = None
    # Sign-in: sessions live in the store, so every web replica honours them.
    session_idle_minutes: float = Field(default=60.0, gt=0)
    session_absolute_hours: float = Field(default=12.0, gt=0)
    kiosk_session_days: float = Field(default=90.0, gt=0)
    session_check_seconds: float = Field(default=5.0, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: float = Field(default=900.0, gt=0)
    metrics_token: str | None = None
    # `shopfloor project` answers /healthz, /readyz and /metrics on this port when it is set; off by
    # default, so workers sharing a host never contend for one port.
    project_port: int | None = Field(default=None, ge=1, le=65_535)
    # The HTTP edge: who may forward client addresses, which Host names are ours, and what one
    # client may hold open. Lists are comma-separated strings, so they survive env vars.
    trusted_proxies: str = ""
    allowed_hosts: str = ""
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    http_max_connections: int = Field(default=4096, ge=16)
    http_max_header_bytes: int = Field(default=65_536, ge=4096)
    streams_per_session: int = Field(default=16, ge=1)
    streams_per_client: int = Field(default=200, ge=1)
    login_max_failures_per_account: int = Field(default=50, ge=1)

    topic_work_orders: str = "mes.work-orders"
    topic_equipment: str = "mes.equipment"
    topic_sensors: str = "iot.sensors"
    topic_inventory: str = "wms.inventory"
    topic_outbound: str = "wms.outbound"
    topic_alert_commands: str = "ops.alert-commands"
    topic_quality: str = "mes.quality"

    batch_max_records: int = Field(default=5000, ge=1)
    dedup_window_seconds: float = Field(default=3600.0, gt=0)
    # Hostile records: how far an event's `time` may run ahead of its record's log timestamp and the
    # consumer's clock before it is dead-lettered, and the largest record written to a `.dlq` topic
    # (the broker's default limit is 1 MiB; a larger value is cut, with a note in its headers).
    max_clock_skew_seconds: float = Field(default=300.0, ge=0)
    dead_letter_max_bytes: int = Field(default=1_000_000, ge=10_000)
    push_interval_seconds: float = Field(default=0.025, gt=0)  # one coalescing frame per view
    # Alarm limits and priorities (TOML); SHOPFLOOR_ALARM_LIMITS / _PRIORITIES / _SILENT_SECONDS override it.
    alarm_config: str | None = None
    # Critical alarms unacknowledged this long go to the webhook, then to the escalation webhook.
    alarm_webhook_url: str | None = None
    alarm_escalation_url: str | None = None
    alarm_notify_after_minutes: float = Field(default=10.0, gt=0)
    alarm_escalate_after_minutes: float = Field(default=30.0, gt=0)
    alarm_notify_retries: int = Field(default=5, ge=1, le=20)

    # Warehouse. Per-key overrides are "KEY=NUMBER,KEY=NUMBER" strings, so they survive env vars.
    inventory_reorder_point: int = Field(default=20, ge=0)
    inventory_reorder_points: str = ""
    outbound_stuck_minutes: str = "CREATED=15,PAID=30,PICKED=60,DISPATCHED=1440"
    sim_payment_failure_share: float = Field(default=0.05, ge=0, le=1)
    sim_cancel_share: float = Field(default=0.03, ge=0, le=1)
    sim_stuck_share: float = Field(default=0.04, ge=0, le=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        import ipaddress

        for part in filter(None, (p.strip() for p in value.split(","))):
            if part != "*":
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(f"{part!r} is not an IP address or network (CIDR)") from None
        return value

    # Past views (?at=): a snapshot of the read models every N minutes of event time (0: none, every
    # past view replays the log from its beginning), kept this many hours; a part with more records
    # than `history_snapshot_records` an interval is taken more often, so a past view replays no
    # more than about that many of its records (0: every interval only).
    history_snapshot_minutes: float = Field(default=10.0, ge=0)
    history_snapshot_retention_hours: float = Field(default=48.0, gt=0)
    history_snapshot_records: int = Field(default=30_000, ge=0)

    @field_validator("history_snapshot_records")
    @classmethod
    def _busy_records(cls, value: int) -> int:
        # below the 5,000 records that make a part worth a new snapshot, the finer grid's moments
        # would be built and thrown away as quiet
        if 0 < value < 5_000:
            raise ValueError("must be 0 (one snapshot per interval) or at least 5000")
        return value

    # Plan vs actual: the plant's shift calendar (local wall-clock times) and when a line is behind.
    timezone: str = "UTC"
    shifts: str = "06:00-14:00,14:00-22:00,22:00-06:00"
    breaks: str = ""
    line_behind_margin: float = Field(default=0.05, ge=0, lt=1)
    line_target_share: float = Field(default=0.85, gt=0, le=1)
    line_down_rule: Literal["any", "all"] = "any"  # a line is down while any (or only all) machines are DOWN
    carrier_cutoffs: str = ""  # "DHL=15:00;17:30,UPS=16:00": daily truck cutoffs, plant local time

    @model_validator(mode="after")
    def _calendar_parses(self) -> Settings:
        self.calendar()
        parse_cutoffs(self.carrier_cutoffs)
        return self

    def calendar(self) -> Calendar:
        return Calendar.parse(self.timezone, self.shifts, self.breaks)

    @field_validator("inventory_reorder_points", "outbound_stuck_minutes")
    @classmethod
    def _key_numbers(cls, value: str) -> str:
        key_numbers(value)
        return value

    def reorder_points(self) -> dict[str, int]:
        """Per-SKU reorder points that override `inventory_reorder_point`."""
        return {key: int(number) for key, number in key_numbers(self.inventory_reorder_points).items()}

    def stuck_limits_ms(self) -> dict[str, int]:
        """How long an order may sit in each open stage before it counts as stuck."""
        return {key: int(number * 60_000) for key, number in key_numbers(self.outbound_stuck_minutes).items()}

    @property
    def topics(self) -> list[str]:
        return [
            self.topic_work_orders,
            self.topic_equipment,
            self.topic_sensors,
            self.topic_inventory,
            self.topic_outbound,
            self.topic_alert_commands,
            self.topic_quality,
        ]

    def event_topics(self) -> dict[str, str]:
        """Which topic each event type is published to (the contract's topic table)."""
        return topics_of_event_types(self)

    @property
    def embedded(self) -> bool:
        return not self.kafka_bootstrap_servers

    def kafka_client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            options.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password,
            )
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(cafile=self.kafka_ssl_cafile)
        return options

    def auth_enabled(self, default: bool) -> bool:
        enabled = default if self.auth is None else self.auth == "on"
        if not enabled and self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"SHOPFLOOR_AUTH=off is only allowed on a loopback address, not {self.host!r}")
        return enabled


def key_numbers(text: str) -> dict[str, float]:
    """Parses "A=1,B=2.5" (blank allowed); raises ValueError on anything else."""
    result: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, number = part.rpartition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=NUMBER, got {part[:60]!r}")
        value = float(number)
        if value < 0 or value != value:
            raise ValueError(f"{key.strip()!r} must be a number >= 0")
        result[key.strip()] = value
    return result
