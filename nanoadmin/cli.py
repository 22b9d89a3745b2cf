"""The ``nanoadmin`` command: start, check-config, keygen, token."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from nanoadmin import __version__
from nanoadmin.config import ConfigError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG_ERROR = 2
LOG_LEVELS = ("debug", "info", "warning", "error")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


MAX_MOCK_CLIENTS = 10_000_000


def _path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    files = parser.add_mutually_exclusive_group()
    files.add_argument("--conf", type=_path, help="NanoMQ config file: HOCON, key=value or TOML")
    files.add_argument("--old_conf", type=_path, help="a key=value (nanomq_old.conf) config file")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nanoadmin", description="A stand-in for NanoMQ's /api/v4 admin API.")
    parser.add_argument("--version", action="version", version=f"nanoadmin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    start = commands.add_parser("start", help="serve the API")
    _config_arguments(start)
    start.add_argument("-p", "--port", type=int, help="HTTP port; beats the file and NANOMQ_*")
    seed = start.add_mutually_exclusive_group()
    seed.add_argument(
        "--scenario", type=_path, help="TOML or JSON file of clients and retained messages"
    )
    seed.add_argument("--mock-clients", type=int, metavar="N", help="generate N clients")
    start.add_argument("--log-level", choices=LOG_LEVELS, default="info")
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

    check = commands.add_parser("check-config", help="validate a config and print it")
    _config_arguments(check)

    keygen = commands.add_parser("keygen", help="write an RSA key pair for JWT auth")
    keygen.add_argument("--out", type=_path, default="keys", help="folder (default: keys)")
    keygen.add_argument("--name", default="nanomq", help="file name stem (default: nanomq)")
    keygen.add_argument("--bits", type=int, default=2048, help="key size (default: 2048)")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")

    token = commands.add_parser("token", help="print an RS256 JWT NanoMQ accepts")
    token.add_argument("--key", type=_path, required=True, help="the private key file (PEM)")
    issuer = token.add_mutually_exclusive_group(required=True)
    issuer.add_argument("--iss", type=_path, help="the public key's file name, e.g. nanomq.pub")
    issuer.add_argument("--conf", type=_path, help="take iss from this config's jwt.public.keyfile")
    token.add_argument("--ttl", default="1h", help="lifetime: seconds or 30s/15m/1h/7d")
    token.add_argument("--claim", action="append", default=[], metavar="K=V")
    return parser


def _start(args: argparse.Namespace) -> int:
    from nanoadmin.config.atomic import remove_leftovers
    from nanoadmin.settings import load_settings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Settings first: a bad config fails before the HTTP stack is even imported.
    settings = load_settings(
        args.conf,
        old_conf=args.old_conf,
        port=args.port,
        mqtt=args.mqtt,
        cors=args.cors,
        dist=args.dist,
    )
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


def _check_config(args: argparse.Namespace) -> int:
    from nanoadmin.runtime import load
    from nanoadmin.settings import describe_settings, load_settings

    settings = load_settings(args.conf, old_conf=args.old_conf)
    load(settings, scenario=None)  # exactly what start builds: keys, live config, rules
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


COMMANDS = {"start": _start, "check-config": _check_config, "keygen": _keygen, "token": _token}


def main(argv: Sequence[str] | None = None) -> int:
    from nanoadmin.model.scenario import ScenarioError

    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"nanoadmin: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except (ConfigError, ScenarioError) as exc:
        print(f"nanoadmin: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"nanoadmin: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    except MemoryError:
        print("nanoadmin: out of memory", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
