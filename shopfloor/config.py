"""Configuration from SHOPFLOOR_* environment variables (or the matching command-line flags)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    kafka_bootstrap_servers: str | None = None
    kafka_group_id: str = "shopfloor-projector"
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

    topic_work_orders: str = "mes.work-orders"
    topic_equipment: str = "mes.equipment"
    topic_sensors: str = "iot.sensors"
    topic_inventory: str = "wms.inventory"
    topic_outbound: str = "wms.outbound"
    topic_alert_commands: str = "ops.alert-commands"

    batch_max_records: int = Field(default=5000, ge=1)
    push_interval_seconds: float = Field(default=0.25, gt=0)
    stale_after_seconds: float = Field(default=15.0, gt=0)

    @property
    def topics(self) -> list[str]:
        return [
            self.topic_work_orders,
            self.topic_equipment,
            self.topic_sensors,
            self.topic_inventory,
            self.topic_outbound,
            self.topic_alert_commands,
        ]

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
