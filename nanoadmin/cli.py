"""The ``nanoadmin`` command: start, check-config, keygen, token."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from nanoadmin import __version__
from nanoadmin.config import ConfigError
from nanoadmin.logs import LOG_FORMATS

if TYPE_CHECKING:
    from nanoadmin.settings import Settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG_ERROR = 2
# NanoMQ's level names first, then Python's: both are accepted.
LOG_LEVEL_NAMES = ("trace", "debug", "info", "warn", "error", "fatal", "warning", "critical")


class UsageError(Exception):
    """Arguments the command refuses; ``usage``, when set, is shown before the one line."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class _DefaultsShown(argparse.HelpFormatter):
    """Help that says each option's default, where it has one and does not say it itself."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if "required: COMMAND" in message:  # bare `nanoadmin`: say what it can do
            raise UsageError("a command is needed", self.format_help())
        raise UsageError(f"{message} (see {self.prog} --help)")


MAX_MOCK_CLIENTS = 10_000_000


def _path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


def _log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in LOG_LEVEL_NAMES:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(LOG_LEVEL_NAMES)})"
        )
    return level


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    files = parser.add_mutually_exclusive_group()
    files.add_argument(
        "--conf",
        type=_path,
        help="NanoMQ config file: HOCON, key=value or TOML (default: $NANOMQ_CONF_PATH, "
        "else conf/nanomq.conf)",
    )
    files.add_argument("--old_conf", type=_path, help="a key=value (nanomq_old.conf) config file")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nanoadmin", description="A stand-in for NanoMQ's /api/v4 admin API.")
    parser.add_argument("--version", action="version", version=f"nanoadmin {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )

    start = commands.add_parser("start", help="serve the API")
    _config_arguments(start)
    start.add_argument("-p", "--port", type=int, help="HTTP port; beats the file and NANOMQ_*")
    start.add_argument(
        "--host", help="address to listen on; beats http_server.ip_addr and NANOMQ_*"
    )
    seed = start.add_mutually_exclusive_group()
    seed.add_argument(
        "--scenario", type=_path, help="TOML or JSON file of clients and retained messages"
    )
    seed.add_argument("--mock-clients", type=int, metavar="N", help="generate N clients")
    start.add_argument(
        "--log-level",
        "--log_level",
        dest="log_level",
        type=_log_level,
        metavar="LEVEL",
        help="trace, debug, info, warn, error or fatal (default: the config's log.level, "
        "else $NANOMQ_LOG_LEVEL, else info)",
    )
    start.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text", help="log lines as text or JSON"
    )
    start.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a line for each request (at level info)",
    )
    start.add_argument(
        "--mqtt", metavar="[HOST:]PORT", help="also serve MQTT (3.1, 3.1.1, 5) on this address"
    )
    start.add_argument(
        "--cors",
        action="append",
        metavar="ORIGIN",
        help="answer browser calls from this origin (repeatable; replaces nanoadmin.cors)",
    )
    start.add_argument(
        "--dist", type=_path, metavar="DIR", help="serve this folder's files at / (as ./dist)"
    )
    start.add_argument(
        "--control",
        action="store_true",
        help="serve the test double's control API at /_nanoadmin/v1/ (journal, faults, state)",
    )
    start.add_argument(
        "--faults", type=_path, metavar="FILE", help="fault rules to apply from the start"
    )

    check = commands.add_parser("check-config", help="validate a config and print it")
    _config_arguments(check)

    keygen = commands.add_parser("keygen", help="write an RSA key pair for JWT auth")
    keygen.add_argument("--out", type=_path, default="keys", help="folder")
    keygen.add_argument("--name", default="nanomq", help="file name stem")
    keygen.add_argument("--bits", type=int, default=2048, help="key size")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")

    token = commands.add_parser("token", help="print an RS256 JWT NanoMQ accepts")
    token.add_argument("--key", type=_path, required=True, help="the private key file (PEM)")
    issuer = token.add_mutually_exclusive_group(required=True)
    issuer.add_argument("--iss", type=_path, help="the public key's file name, e.g. nanomq.pub")
    issuer.add_argument("--conf", type=_path, help="take iss from this config's jwt.public.keyfile")
    token.add_argument("--ttl", default="1h", help="lifetime: seconds or 30s/15m/1h/7d")
    snapshot = commands.add_parser(
        "snapshot", help="print a scenario (TOML) of a running server's clients, bridges, rules"
    )
    snapshot.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="e.g. http://host:8081"
    )
    credentials = snapshot.add_mutually_exclusive_group()
    credentials.add_argument("-u", "--user", metavar="USER:PASS", help="Basic credentials")
    credentials.add_argument("--token", metavar="JWT", help="a bearer token")

    token.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="K=V",
        help="an extra payload claim (repeatable); digits give a number",
    )
    return parser


def _start(args: argparse.Namespace) -> int:
    from nanoadmin.config.atomic import remove_leftovers
    from nanoadmin.logs import configure_logging, set_level
    from nanoadmin.settings import load_settings

    configure_logging(args.log_level or "info", args.log_format, access_log=args.access_log)
    # Settings first: a bad config fails before the HTTP stack is even imported.
    settings = load_settings(
        args.conf,
        old_conf=args.old_conf,
        port=args.port,
        host=args.host,
        mqtt=args.mqtt,
        cors=args.cors,
        dist=args.dist,
        control=args.control,
        faults=args.faults,
    )
    if args.log_level is None and settings.log_level is not None:
        set_level(settings.log_level)
    log_loaded(settings)
    if settings.path is not None:
        remove_leftovers(settings.path)

    from nanoadmin.app import create_app
    from nanoadmin.http.server import run
    from nanoadmin.model.mock import generate_mock_clients
    from nanoadmin.model.scenario import demo_scenario, load_scenario

    if args.scenario:
        scenario = load_scenario(Path(args.scenario))
    elif args.mock_clients is not None:
        if not 0 <= args.mock_clients <= MAX_MOCK_CLIENTS:
            raise UsageError(
                f"--mock-clients has value {args.mock_clients}. Expected 0..{MAX_MOCK_CLIENTS}"
            )
        scenario = generate_mock_clients(args.mock_clients)
    else:
        scenario = demo_scenario()
    app = create_app(settings, scenario)
    run(app)
    return EXIT_OK


def log_loaded(settings: Settings) -> None:
    """What a config's reader should hear of: its warnings, and at debug what was read."""
    logger = logging.getLogger("nanoadmin.settings")
    for warning in settings.warnings:
        logger.warning("%s", warning)
    logger.debug(
        "read %s (%s)%s",
        settings.path,
        settings.format,
        "".join(f", included {path}" for path in settings.included),
    )


def _check_config(args: argparse.Namespace) -> int:
    from nanoadmin.runtime import load
    from nanoadmin.settings import describe_settings, load_settings

    settings = load_settings(args.conf, old_conf=args.old_conf)
    load(settings, scenario=None)  # exactly what start builds: keys, live config, rules
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(describe_settings(settings))
    return EXIT_OK


def _keygen(args: argparse.Namespace) -> int:
    from nanoadmin.auth.jwt_tools import generate_keypair

    private, public = generate_keypair(Path(args.out), args.name, args.bits, force=args.force)
    print(f"wrote {private} (private, keep it secret) and {public}")
    print(f'tokens for this key must carry "iss": "{public.name}"')
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    from nanoadmin.auth.jwt_tools import matching_iss, mint_token, parse_claims, parse_ttl
    from nanoadmin.settings import load_settings

    ttl = parse_ttl(args.ttl)
    claims = parse_claims(args.claim)
    key = Path(args.key)
    if args.conf:
        keyfiles = load_settings(args.conf).http_server.jwt.public_keyfiles
        iss = matching_iss(key, keyfiles)
    else:
        iss = args.iss
    print(mint_token(key, iss, ttl, claims))
    return EXIT_OK


def _snapshot(args: argparse.Namespace) -> int:
    from nanoadmin.snapshot import ApiReader, basic_authorization, read_scenario, to_toml

    if args.user is not None and ":" not in args.user:
        raise UsageError("-u has no ':'. Expected USER:PASS")
    authorization = (
        basic_authorization(args.user)
        if args.user is not None
        else f"Bearer {args.token}"
        if args.token
        else None
    )
    sys.stdout.write(to_toml(read_scenario(ApiReader(args.source, authorization)), args.source))
    return EXIT_OK


COMMANDS = {
    "start": _start,
    "check-config": _check_config,
    "keygen": _keygen,
    "token": _token,
    "snapshot": _snapshot,
}


def main(argv: Sequence[str] | None = None) -> int:
    from nanoadmin.model.scenario import ScenarioError
    from nanoadmin.snapshot import SnapshotError

    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"{exc.usage}nanoadmin: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except (ConfigError, ScenarioError) as exc:
        print(f"nanoadmin: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except SnapshotError as exc:
        print(f"nanoadmin: snapshot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"nanoadmin: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    except MemoryError:
        print("nanoadmin: out of memory", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
