"""Command line: run any task against a Stash URL (for scripts and cron), or the self-contained demo."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .errors import PluginError, Stopped
from .redact import redact
from .runtime.reporter import ConsoleReporter
from .runtime.session import task_context
from .settings import SETTING_BY_NAME, manifest_settings_yaml, parse_args, settings_table
from .tasks import MODES, run, task_for


def _key_values(pairs: list[str], what: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: {what} must look like key=value, got {pair!r}")
        values[key.strip()] = value
    return values


def _setting_overrides(pairs: list[str]) -> dict[str, Any]:
    """``--set`` pairs; a misspelt name would otherwise be ignored silently, as Stash ignores unknown keys."""
    overrides = _key_values(pairs, "--set")
    unknown = sorted(set(overrides) - set(SETTING_BY_NAME))
    if unknown:
        raise SystemExit(f"error: unknown setting {', '.join(unknown)} (see `stash-compreface settings`)")
    return overrides


def print_settings(width: int = 100) -> None:
    """The settings table for people: name, default, accepted range and what it does."""
    print(textwrap.fill("Plugin settings: set them in Stash (Settings > Plugins > CompreFace Face Recognition), "
                        "or for one run with `stash-compreface run MODE --set NAME=VALUE`. An empty value means "
                        "the default.", width))
    for name, default, accepted, meaning in settings_table():
        print(f"\n{name}")
        for label, text in (("meaning", meaning), ("default", default), ("range", accepted)):
            print(textwrap.fill(text, width, initial_indent=f"  {label:<8} ", subsequent_indent=" " * 11))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stash-compreface", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run_p = sub.add_parser("run", help="run a task mode against a Stash server")
    run_p.add_argument("mode", choices=sorted(MODES), metavar="mode",
                       help="a task mode, e.g. recognizeImagesHQ (see `stash-compreface modes`)")
    run_p.add_argument("--stash-url", default=os.environ.get("STASH_URL", "http://localhost:9999"),
                       help="Stash base URL (env STASH_URL; default http://localhost:9999)")
    run_p.add_argument("--api-key", default=os.environ.get("STASH_API_KEY"),
                       help="Stash API key (env STASH_API_KEY), from Settings > Security")
    run_p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                       help="task argument, e.g. --arg limit=100 --arg imageId=12")
    run_p.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                       help="override a plugin setting saved in Stash for this run, e.g. --set maxBatchSize=50 "
                       "(names, defaults and ranges: `stash-compreface settings`)")
    run_p.add_argument("--dry-run", action="store_true", help="log what would change, write nothing")
    run_p.add_argument("--state-dir", type=Path, help="the plugin's state folder (sightings, undo journal, run "
                       "lock, built-in faces), as the stateDir setting (default: the plugin's own data folder, "
                       "found through Stash when Stash runs on this machine)")
    run_p.add_argument("--no-wait", action="store_true",
                       help="end at once when another run holds this Stash library, instead of waiting for it")
    run_p.add_argument("--insecure", action="store_true", help="do not verify Stash's TLS certificate")
    run_p.add_argument("-v", "--verbose", action="store_true", help="also show debug lines")

    sub.add_parser("modes", help="list the task modes")
    settings_p = sub.add_parser("settings", help="list the plugin settings: name, default, range and meaning")
    settings_p.add_argument("--manifest", action="store_true",
                            help="print the settings block of plugin/compreface.yml instead (for maintainers)")
    demo_p = sub.add_parser("demo", help="run the plugin end to end against built-in Stash and CompreFace "
                            "test doubles with a generated sample library")
    demo_p.add_argument("--images", type=int, default=40, help="size of the sample library (default 40)")
    demo_p.add_argument("-v", "--verbose", action="store_true", help="show every plugin log line")
    sub.add_parser("plugin", help="act as the Stash plugin process (stdin JSON, stderr log protocol)")
    quality_p = sub.add_parser("quality-service", help="serve face quality measures over HTTP (/quality/assess, "
                               "/quality/detect, /quality/preprocess, /health) with the built-in face engine")
    quality_p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                           "0.0.0.0 for every interface)")
    quality_p.add_argument("--port", type=int, default=6001, help="port to listen on (default 6001)")
    quality_p.add_argument("--backend", default="auto", help="face engine backend: auto, opencv or ncnn "
                           "(default auto)")
    return parser


def _quality_service(ns: argparse.Namespace) -> int:
    """Load the detector first, so a missing engine is one readable line, not a server that fails per request."""
    if not 0 <= ns.port <= 65535:
        print(f"error: --port must be within 0..65535, got {ns.port}", file=sys.stderr)
        return 2
    try:
        from .engine.backend import load_backend
        from .quality.service import serve
    except ImportError as exc:
        print(f"error: the quality service needs starlette, uvicorn and python-multipart in the plugin's "
              f"environment ({exc})", file=sys.stderr)
        return 1
    try:
        model = load_backend(ns.backend)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    serve(ns.host, ns.port, model)
    return 0


def _run(ns: argparse.Namespace) -> int:
    args_raw = {"mode": ns.mode, **_key_values(ns.arg, "--arg")}
    overrides = _setting_overrides(ns.set)
    if ns.dry_run:
        overrides["dryRun"] = True
    if ns.state_dir:
        overrides["stateDir"] = str(ns.state_dir.expanduser().absolute())
    reporter = ConsoleReporter(verbose=ns.verbose)
    stop = threading.Event()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        reporter.log("warning", "stopping after the images in flight (Ctrl-C again to abort)")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        args = parse_args(args_raw)
        writes = task_for(args.mode).writes_with(args)
        stash_url = ns.stash_url.rstrip("/")
        with task_context(stash_url=stash_url, reporter=reporter, state_dir=None, find_state=True,
                          api_key=ns.api_key, overrides=overrides, verify_tls=not ns.insecure, stop=stop,
                          wait_for_lock=not ns.no_wait, take_lock=writes) as ctx:
            output = run(args.mode, ctx, args)
    except Stopped:
        reporter.close()
        reporter.log("warning", "stopped; run the same command again to continue where it left off")
        return 130
    except KeyboardInterrupt:
        reporter.close()
        return 130
    except PluginError as exc:
        reporter.close()
        reporter.log("error", str(exc))
        return 1
    reporter.close()
    print(json.dumps(output, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    if ns.command in ("modes", "settings"):
        try:
            if ns.command == "modes":
                print("\n".join(MODES))
            elif ns.manifest:
                print(manifest_settings_yaml(), end="")
            else:
                print_settings()
            sys.stdout.flush()
        except BrokenPipeError:  # `stash-compreface settings | head`: the reader has all it wants
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if ns.command == "plugin":
        from .runtime.plugin import main as plugin_main

        return plugin_main()
    if ns.command == "quality-service":
        return _quality_service(ns)
    if ns.command == "demo":
        try:
            from testdoubles.demo import run_demo  # the repo's src/testdoubles: not in the wheel
        except ImportError as exc:
            print("error: the demo runs from a clone of the repository, installed with "
                  f"pip install -e '.[test]' ({exc})", file=sys.stderr)
            return 1
        return run_demo(images=ns.images, verbose=ns.verbose)
    try:
        return _run(ns)
    except Exception as exc:  # the one catch-all: a traceback is for the verbose log only
        print(redact(f"error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1


__all__ = ["main"]
