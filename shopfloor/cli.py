"""`shopfloor demo | serve | simulate`: the command line (flags mirror SHOPFLOOR_* variables)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from shopfloor.config import Settings

DEMO_DATABASE = "sqlite:///shopfloor-demo.db"


def _common(parser: argparse.ArgumentParser, *, web: bool = True, kafka: bool = True) -> None:
    if kafka:
        parser.add_argument(
            "--kafka-bootstrap-servers",
            metavar="HOST:PORT",
            help="Kafka brokers (env SHOPFLOOR_KAFKA_BOOTSTRAP_SERVERS)",
        )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL of the read-model store (env SHOPFLOOR_DATABASE_URL)",
    )
    if web:
        parser.add_argument("--host", help="listen address (env SHOPFLOOR_HOST, default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="listen port (env SHOPFLOOR_PORT, default 8000)")
        parser.add_argument("--auth", choices=["on", "off"], help="sign-in (env SHOPFLOOR_AUTH)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopfloor", description="Real-time shop-floor dashboard.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="everything in one process with simulated plant traffic",
        description="Runs the web server, the projector and a plant simulator in one "
        "process on the embedded event log and a fresh SQLite store "
        f"({DEMO_DATABASE} unless --database-url is given). No Kafka needed.",
    )
    _common(demo, kafka=False)
    demo.add_argument("--rate", type=float, default=20.0, help="simulated events per second (default 20)")
    serve = commands.add_parser(
        "serve",
        help="web server and consumers against Kafka",
        description="Consumes the plant topics from Kafka into the store and serves "
        "the live pages. Creates missing topics; reads from the beginning on an "
        "empty store.",
    )
    _common(serve)
    web = commands.add_parser(
        "web",
        help="web server only (no consumers); a replica behind a load balancer",
        description="Serves the live pages from the store without consuming. On PostgreSQL it "
        "learns of every commit by any `project` worker through LISTEN/NOTIFY, so any number "
        "of replicas can run side by side.",
    )
    _common(web, kafka=False)
    project = commands.add_parser(
        "project",
        help="consumers and projections only (no web server)",
        description="Consumes the plant topics into the store. Several `project` "
        "processes share the work through one Kafka consumer group.",
    )
    _common(project, web=False)
    simulate = commands.add_parser(
        "simulate",
        help="produce realistic plant traffic to Kafka",
        description="Produces CloudEvents to the plant topics until stopped.",
    )
    _common(simulate, web=False)
    simulate.add_argument("--rate", type=float, default=50.0, help="work-order events per second")
    simulate.add_argument("--duration", type=float, help="stop after this many seconds")
    simulate.add_argument("--count", type=int, help="stop after this many events")
    simulate.add_argument("--seed", type=int, help="random seed, for repeatable traffic")
    simulate.add_argument(
        "--sensor-rate", type=float, default=1000.0, help="sensor readings per second (default 1000)"
    )
    demo.add_argument(
        "--sensor-rate", type=float, default=50.0, help="sensor readings per second (default 50)"
    )
    from shopfloor.evaluation_cli import add_parser as add_evaluate

    add_evaluate(commands)  # equipment (issue 4)
    from shopfloor.contracts.cli import add_parser as add_schemas

    add_schemas(commands)  # event contracts (issue 7)
    from shopfloor.rebuild.cli import add_parser as add_rebuild

    add_rebuild(commands, _common)  # zero-downtime rebuilds (issue 7)
    from shopfloor.auth.cli import add_parser as add_users

    add_users(commands)  # sign-in accounts (issue 6)
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    values = {
        name: getattr(args, name, None)
        for name in ("kafka_bootstrap_servers", "database_url", "host", "port", "auth")
    }
    values.update(overrides)
    return Settings(**{k: v for k, v in values.items() if v is not None})


def _serve(
    settings: Settings,
    *,
    consume: bool,
    demo_rate: float | None = None,
    auth_default: bool,
    demo_sensor_rate: float = 0.0,
) -> None:
    from shopfloor.runtime import build
    from shopfloor.web.app import create_app
    from shopfloor.web.server import serve

    runtime = build(settings, consume=consume, serve_web=True, demo=demo_rate is not None)
    runtime.auth = settings.auth_enabled(default=auth_default)
    if demo_rate is not None and runtime.sink is not None:
        from shopfloor.simulator import base
        from shopfloor.simulator.plant import plant_traffic

        sink = runtime.sink

        async def simulate() -> None:
            generators = plant_traffic(settings, rate=demo_rate, sensor_rate=demo_sensor_rate)
            await base.burst(sink, generators, 400)
            await base.run(sink, generators)

        runtime.tasks.append(simulate)
    app = create_app(runtime)
    print(f"shopfloor: http://{settings.host}:{settings.port}", flush=True)
    serve(app, settings, runtime.auth)


def _project(settings: Settings) -> None:
    from shopfloor.runtime import build

    runtime = build(settings, consume=True, serve_web=False)

    async def main() -> None:
        async with runtime.lifespan(None):
            await asyncio.Event().wait()

    asyncio.run(main())


def _simulate(settings: Settings, args: argparse.Namespace) -> None:
    from shopfloor.simulator import base
    from shopfloor.simulator.plant import plant_traffic
    from shopfloor.transport.kafka import KafkaSink, ensure_topics

    if settings.embedded:
        sys.exit("shopfloor simulate: set SHOPFLOOR_KAFKA_BOOTSTRAP_SERVERS or --kafka-bootstrap-servers")

    async def main() -> None:
        options = settings.kafka_client_options()
        servers = settings.kafka_bootstrap_servers or ""
        await ensure_topics(servers, settings.topics, settings.kafka_topic_partitions, options)
        sink = KafkaSink(servers, options)
        await sink.start()
        try:
            sent = await base.run(
                sink,
                plant_traffic(settings, rate=args.rate, seed=args.seed, sensor_rate=args.sensor_rate),
                duration=args.duration,
                max_events=args.count,
            )
        finally:
            await sink.stop()
        print(f"sent {sent} events", flush=True)

    asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from shopfloor.observability.logs import configure_from_env

    configure_from_env()  # SHOPFLOOR_LOG_FORMAT=json (issue 7)
    if args.command in ("demo", "serve", "web", "project"):
        from shopfloor.observability.tracing import configure_from_env as configure_tracing

        configure_tracing(args.command)  # OTLP traces when OTEL_EXPORTER_OTLP_ENDPOINT is set (issue 7)
    try:
        if args.command == "demo":
            settings = _settings(
                args, kafka_bootstrap_servers="", database_url=args.database_url or DEMO_DATABASE
            )
            _serve(
                settings,
                consume=True,
                demo_rate=args.rate,
                auth_default=False,
                demo_sensor_rate=args.sensor_rate,
            )
        elif args.command == "serve":
            _serve(_settings(args), consume=True, auth_default=True)
        elif args.command == "web":
            settings = _settings(args)
            if not settings.database_url.startswith("postgresql"):
                logging.getLogger("shopfloor").warning(
                    "shopfloor web on SQLite hears no commits from other processes; use PostgreSQL"
                )
            _serve(settings, consume=False, auth_default=True)
        elif args.command == "project":
            _project(_settings(args))
        elif args.command == "simulate":
            _simulate(_settings(args), args)
        elif args.command == "rebuild":
            from shopfloor.rebuild.cli import run as run_rebuild

            run_rebuild(_settings(args), args)
        elif args.command == "schemas":
            from shopfloor.contracts.cli import run as run_schemas

            run_schemas(args)
        elif args.command == "evaluate":
            from shopfloor.evaluation_cli import run as run_evaluate

            run_evaluate(args)
        elif args.command == "users":
            from shopfloor.auth.cli import run as run_users

            run_users(args)
    except ValueError as exc:
        sys.exit(f"shopfloor {args.command}: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
