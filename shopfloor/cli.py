"""`shopfloor demo | serve | simulate`: the command line (flags mirror SHOPFLOOR_* variables)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import ArgumentError, OperationalError

from shopfloor.config import Settings

DEMO_DATABASE = "sqlite:///shopfloor-demo.db"


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default in --help, unless it has none or the text already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default in (None, argparse.SUPPRESS, False) or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def add_command(commands: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    return commands.add_parser(name, **kwargs)


def add_log_level(parser: argparse.ArgumentParser, default: str = "info") -> None:
    parser.add_argument(
        "--log-level", default=default, choices=["debug", "info", "warning", "error"], help="log detail"
    )


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def _common(
    parser: argparse.ArgumentParser,
    *,
    web: bool = True,
    kafka: bool = True,
    store: bool = True,
    store_default: str = "sqlite:///shopfloor.db",
    auth_default: str = "on",
) -> None:
    if kafka:
        parser.add_argument(
            "--kafka-bootstrap-servers",
            metavar="HOST:PORT",
            help="Kafka brokers (env SHOPFLOOR_KAFKA_BOOTSTRAP_SERVERS)",
        )
    if store:
        parser.add_argument(
            "--database-url",
            metavar="URL",
            help="SQLAlchemy URL of the read-model store (env SHOPFLOOR_DATABASE_URL, "
            f"default {store_default})",
        )
    if web:
        parser.add_argument("--host", help="listen address (env SHOPFLOOR_HOST, default 127.0.0.1)")
        parser.add_argument("--port", type=_port, help="listen port (env SHOPFLOOR_PORT, default 8000)")
        parser.add_argument(
            "--auth", choices=["on", "off"], help=f"sign-in (env SHOPFLOOR_AUTH, default {auth_default})"
        )
    add_log_level(parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopfloor", description="Real-time shop-floor dashboard.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = add_command(
        commands,
        "demo",
        help="everything in one process with simulated plant traffic",
        description="Runs the web server, the projector and a plant simulator in one "
        "process on the embedded event log and a fresh SQLite store "
        f"({DEMO_DATABASE} unless --database-url is given). No Kafka needed.",
    )
    _common(demo, kafka=False, store_default=DEMO_DATABASE, auth_default="off")
    demo.add_argument(
        "--rate", type=float, default=20.0, help="simulated work-order and warehouse events per second"
    )
    serve = add_command(
        commands,
        "serve",
        help="web server and consumers against Kafka",
        description="Consumes the plant topics from Kafka into the store and serves "
        "the live pages. Creates missing topics; reads from the beginning on an "
        "empty store.",
    )
    _common(serve)
    web = add_command(
        commands,
        "web",
        help="web server only (no consumers); a replica behind a load balancer",
        description="Serves the live pages from the store without consuming. On PostgreSQL it "
        "learns of every commit by any `project` worker through LISTEN/NOTIFY, so any number "
        "of replicas can run side by side.",
    )
    _common(web, kafka=False)
    project = add_command(
        commands,
        "project",
        help="consumers and projections only (no web server)",
        description="Consumes the plant topics into the store. Several `project` "
        "processes share the work through one Kafka consumer group.",
    )
    _common(project, web=False)
    simulate = add_command(
        commands,
        "simulate",
        help="produce realistic plant traffic to Kafka",
        description="Produces CloudEvents to the plant topics until stopped.",
    )
    _common(simulate, web=False, store=False)
    simulate.add_argument(
        "--rate", type=float, default=50.0, help="work-order and warehouse events per second"
    )
    simulate.add_argument("--duration", type=float, help="stop after this many seconds")
    simulate.add_argument("--count", type=int, help="stop after this many events")
    simulate.add_argument("--seed", type=int, help="random seed, for repeatable traffic")
    simulate.add_argument("--sensor-rate", type=float, default=1000.0, help="sensor readings per second")
    demo.add_argument("--sensor-rate", type=float, default=50.0, help="sensor readings per second")
    from shopfloor.evaluation_cli import add_parser as add_evaluate

    add_evaluate(commands)
    from shopfloor.contracts.cli import add_parser as add_schemas

    add_schemas(commands)
    from shopfloor.rebuild.cli import add_parser as add_rebuild

    add_rebuild(commands, _common)
    from shopfloor.auth.cli import add_parser as add_users

    add_users(commands)
    _show_defaults(parser)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every subcommand, however deep and wherever declared, lists its defaults in --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.formatter_class = HelpFormatter
                _show_defaults(sub)


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    values = {
        name: getattr(args, name, None)
        for name in ("kafka_bootstrap_servers", "database_url", "host", "port", "auth")
    }
    values.update(overrides)
    return Settings(**{k: v for k, v in values.items() if v is not None})


def _demo_cutoffs() -> dict[str, str]:
    """The demo's carrier cutoffs, unless SHOPFLOOR_CARRIER_CUTOFFS chooses others."""
    if os.environ.get("SHOPFLOOR_CARRIER_CUTOFFS"):
        return {}
    from shopfloor.simulator.demo import demo_cutoffs
    from shopfloor.simulator.warehouse import CARRIERS

    return {"carrier_cutoffs": demo_cutoffs(CARRIERS)}


def _demo_shifts(timezone: str) -> dict[str, str]:
    """The demo's shifts, the first starting now, unless SHOPFLOOR_SHIFTS chooses others."""
    if os.environ.get("SHOPFLOOR_SHIFTS"):
        return {}
    from shopfloor.simulator.demo import demo_shifts

    return {"shifts": demo_shifts(datetime.now(ZoneInfo(timezone)))}


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
        from shopfloor.simulator.plant import demo_traffic

        sink = runtime.sink

        async def simulate() -> None:
            generators = demo_traffic(settings, rate=demo_rate, sensor_rate=demo_sensor_rate)
            await base.burst(sink, generators, 400)
            await base.run(sink, generators)

        runtime.tasks.append(simulate)
    app = create_app(runtime)
    print(f"shopfloor: http://{settings.host}:{settings.port}", flush=True)
    serve(app, settings, runtime.auth, app.state.streams.end_all)


def _refuse_busy_port(
    command: str, settings: Settings, port: int | None = None, knob: str = "--port"
) -> None:
    """A taken port is a one-line error (exit 2) before anything starts or prints a URL; `knob` is
    what picks another."""
    port = settings.port if port is None else port
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, port))
        except (OSError, OverflowError) as exc:
            where = f"{settings.host}:{port}"
            if getattr(exc, "errno", None) == errno.EADDRINUSE:
                message = (
                    f"{where} is already in use; stop what listens there or pick another port with {knob}"
                )
            else:
                reason = getattr(exc, "strerror", None) or exc
                message = f"cannot listen on {where} ({reason}); check --host and {knob}"
            print(f"shopfloor {command}: {message}", file=sys.stderr)
            sys.exit(2)


def _project(settings: Settings) -> None:
    from shopfloor.runtime import build

    if settings.project_port is not None:
        _refuse_busy_port("project", settings, settings.project_port, "SHOPFLOOR_PROJECT_PORT")
    runtime = build(settings, consume=True, serve_web=False)

    async def main() -> None:
        # SIGTERM and SIGINT end the worker through its lifespan: its consumer leaves the group, so
        # the others take its partitions at once instead of after the session timeout. A second
        # signal is the default one again, for a stop that hangs.
        loop, stop = asyncio.get_running_loop(), asyncio.Event()

        def stopping() -> None:
            stop.set()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping)
        async with runtime.lifespan(None):
            if settings.project_port is None:
                await stop.wait()
            else:
                from shopfloor.web.project_health import serve_health

                await serve_health(runtime, settings.project_port, stop)

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

    configure_from_env()  # SHOPFLOOR_LOG_FORMAT=json
    if args.command in ("demo", "serve", "web", "project"):
        from shopfloor.observability.tracing import configure_from_env as configure_tracing

        configure_tracing(args.command)  # OTLP traces when OTEL_EXPORTER_OTLP_ENDPOINT is set
    try:
        if args.command in ("demo", "serve", "web"):
            _refuse_busy_port(args.command, _settings(args))
        if args.command == "demo":
            settings = _settings(
                args,
                kafka_bootstrap_servers="",
                database_url=args.database_url or DEMO_DATABASE,
                **_demo_cutoffs(),
            )
            settings = settings.model_copy(update=_demo_shifts(settings.timezone))
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
    except ArgumentError as exc:  # a database URL SQLAlchemy cannot use
        print(f"shopfloor {args.command}: bad database URL: {exc}", file=sys.stderr)
        sys.exit(2)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        sys.exit(f"shopfloor {args.command}: cannot open the store: {reason}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
