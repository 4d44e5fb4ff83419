"""Kafka security from configuration, against a broker of our own with SASL_PLAINTEXT, SASL_SSL and
SSL listeners (PLAIN users from JAAS, SCRAM-SHA-256 credentials from `StorageTool format
--add-scram`, a self-signed certificate as a PEM keystore). A real `shopfloor serve` creates its
topics, consumes, dead-letters and serves over each; wrong credentials or an untrusted certificate
fail with the cause in the log, and /readyz says the event log is unreachable."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from shopfloor.config import Settings
from shopfloor.transport.kafka import KafkaSink, ensure_topics
from tests.conftest import Producer
from tests.faults.components import own_broker
from tests.support import event, free_port, running_server, server_log, unique_settings, wait_until, wo

PLAIN_USER, PLAIN_PASSWORD = "alice", "alice-secret"
SCRAM_USER, SCRAM_PASSWORD = "bob", "bob-secret"


@dataclass
class SecureBroker:
    sasl_plaintext: str
    sasl_ssl: str
    ssl: str
    cafile: str


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and one PEM file with key + certificate for the broker."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    done = subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"openssl could not make a test certificate (install openssl): {done.stderr}")
    keystore = directory / "keystore.pem"
    keystore.write_text(key.read_text() + cert.read_text())
    return keystore, cert


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    keystore, cert = _certificate(tmp_path_factory.mktemp("tls"))
    plain_port, sasl_port, sasl_ssl_port, ssl_port = (free_port() for _ in range(4))
    listeners = {
        "PLAINTEXT": plain_port,  # dev/kafka.sh checks readiness here
        "SASL_PLAINTEXT": sasl_port,
        "SASL_SSL": sasl_ssl_port,
        "SSL": ssl_port,
    }
    jaas = {
        "plain": "org.apache.kafka.common.security.plain.PlainLoginModule required"
        f' user_{PLAIN_USER}="{PLAIN_PASSWORD}";',
        "scram-sha-256": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    }
    advertised = ",".join(f"{name}://127.0.0.1:{port}" for name, port in listeners.items())
    lines = [
        "listeners=" + advertised + ",CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners=" + advertised,
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT," + ",".join(f"{n}:{n}" for n in listeners),
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
        *(
            f"listener.name.{listener}.{mechanism}.sasl.jaas.config={config}"
            for listener in ("sasl_plaintext", "sasl_ssl")
            for mechanism, config in jaas.items()
        ),
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={keystore}",
    ]
    controller = free_port()
    properties = "\n".join(lines).replace("{controller}", str(controller))
    with own_broker(
        extra_properties=properties,
        format_args=f"--add-scram SCRAM-SHA-256=[name={SCRAM_USER},password={SCRAM_PASSWORD}]",
        port=plain_port,
        controller_port=controller,
    ):
        yield SecureBroker(
            sasl_plaintext=f"127.0.0.1:{sasl_port}",
            sasl_ssl=f"127.0.0.1:{sasl_ssl_port}",
            ssl=f"127.0.0.1:{ssl_port}",
            cafile=str(cert),
        )


def _settings(broker: SecureBroker, tmp: Path, variant: str, password: str | None = None) -> Settings:
    """The security settings an operator would put in SHOPFLOOR_KAFKA_* for each variant."""
    db = f"sqlite:///{tmp / 'store.db'}"
    if variant == "SSL":
        return unique_settings(broker.ssl, db, kafka_security_protocol="SSL", kafka_ssl_cafile=broker.cafile)
    protocol, mechanism = variant.split(" ")
    user, secret = (PLAIN_USER, PLAIN_PASSWORD) if mechanism == "PLAIN" else (SCRAM_USER, SCRAM_PASSWORD)
    extra: dict[str, Any] = {"kafka_ssl_cafile": broker.cafile} if protocol == "SASL_SSL" else {}
    return unique_settings(
        broker.sasl_ssl if protocol == "SASL_SSL" else broker.sasl_plaintext,
        db,
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username=user,
        kafka_sasl_password=password or secret,
        **extra,
    )


async def _dead_lettered(settings: Settings) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        settings.topic_work_orders + ".dlq",
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        **settings.kafka_client_options(),
    )
    await consumer.start()
    try:
        fetched = await consumer.getmany(timeout_ms=10_000)
        return [m.value or b"" for messages in fetched.values() for m in messages]
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    "variant", ["SASL_PLAINTEXT PLAIN", "SASL_PLAINTEXT SCRAM-SHA-256", "SASL_SSL SCRAM-SHA-256", "SSL"]
)
async def test_serve_end_to_end_over_a_secured_listener(secure_broker, tmp_path, variant) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(secure_broker, tmp_path, variant)
    sink = KafkaSink(settings.kafka_bootstrap_servers or "", settings.kafka_client_options())
    await sink.start()
    producer = Producer(sink)
    try:
        with running_server(settings) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:

                async def ready() -> bool:
                    return (await http.get("/readyz")).status_code == 200

                async def shown() -> bool:
                    items = (await http.get("/api/work-orders")).json()["items"]
                    return any(i["work_order_id"] == "WO-SEC" and i["status"] == "RELEASED" for i in items)

                async def dead_lettered() -> bool:
                    return (await http.get("/readyz")).json()["consumer"]["dead_letters"] == 1

                await wait_until(ready, 60, "serve ready over " + variant)
                await producer.event(
                    settings.topic_work_orders,
                    "WO-SEC",
                    event("WorkOrderStatusChanged", wo("WO-SEC", "RELEASED")),
                )
                await producer.raw(settings.topic_work_orders, "WO-BAD", b"not a cloudevent")
                await wait_until(shown, 30, "the event applied and served")
                await wait_until(dead_lettered, 30, "the bad record dead-lettered")
        assert await _dead_lettered(settings) == [b"not a cloudevent"]
    finally:
        await sink.stop()


@pytest.mark.parametrize(
    ("variant", "cause"),
    [
        ("SASL_PLAINTEXT PLAIN", "Invalid username or password"),
        ("SASL_PLAINTEXT SCRAM-SHA-256", "invalid credentials with SASL mechanism SCRAM-SHA-256"),
        ("SSL", "CERTIFICATE_VERIFY_FAILED"),
    ],
)
async def test_wrong_credentials_fail_with_the_cause(secure_broker, tmp_path, caplog, variant, cause) -> None:  # type: ignore[no-untyped-def]
    """The admin client (topic creation) refuses to go on; the log names the cause."""
    settings = _settings(secure_broker, tmp_path, variant, password="wrong-password")
    if variant == "SSL":  # an operator who forgot the CA file: the self-signed certificate is refused
        settings = settings.model_copy(update={"kafka_ssl_cafile": None})
    caplog.set_level(logging.ERROR, logger="aiokafka")
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(
            ensure_topics(
                settings.kafka_bootstrap_servers or "", settings.topics, 1, settings.kafka_client_options()
            ),
            60,
        )
    assert cause in caplog.text, caplog.text[-2000:]


async def test_serve_with_a_wrong_password_stays_unready_and_says_why(secure_broker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(secure_broker, tmp_path, "SASL_PLAINTEXT SCRAM-SHA-256", password="wrong-password")
    port = free_port()
    with running_server(settings, port=port) as url:
        log = server_log(port)
        await wait_until(lambda: "SaslAuthenticationFailed" in log.read_text(), 30, "the failure logged")
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert "event log (Kafka) unreachable" in ready.json()["problems"]
        text = log.read_text()
        assert "invalid credentials with SASL mechanism SCRAM-SHA-256" in text
        assert "cannot reach Kafka yet" in text
        assert SCRAM_PASSWORD not in text and "wrong-password" not in text, "a password reached the log"
