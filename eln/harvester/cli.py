"""eln-harvest: run on a cycler PC to upload its new and grown files to the ELN.

    ELN_CYCLER_TOKEN=... eln-harvest --server https://eln.lab --folder D:\\cycler-data
    eln-harvest --server https://eln.lab --token-file C:\\eln\\token.txt --folder D:\\data\\cell42 --run RUN-0042 --once

Exit codes: 0 fine, 1 files failed for good (with --once) or the server refused the token,
2 bad usage or configuration.
"""
import argparse
import logging
import os
import time
import urllib.parse

from eln.harvester import __version__, scan
from eln.harvester.client import Backoff, Client, ConfigError, Rejected, ServerAway
from eln.harvester.harvest import Harvester
from eln.harvester.state import State

log = logging.getLogger("eln.harvester")
STATE_NAME = ".eln-harvester-state.json"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eln-harvest", description="Watch a folder on a cycler PC and upload new and grown cycler "
        "files to the ELN with the cycler's token.",
        epilog="Layout: FOLDER/RUN-0001/cell42.mpr (one sub-folder per run, named by its label), or any "
        "flat folder with --run. Hidden files, ~$*, *.tmp and *.part files are ignored.")
    p.add_argument("--server", default=os.environ.get("ELN_SERVER"),
                   help="the ELN's address, e.g. https://eln.lab (default: $ELN_SERVER)")
    p.add_argument("--folder", required=True, help="the folder the cycler writes to")
    p.add_argument("--run", help="send every file directly in FOLDER to this run (e.g. RUN-0001)")
    p.add_argument("--token-file", help="a file holding the cycler token (default: $ELN_CYCLER_TOKEN)")
    p.add_argument("--token", help="the cycler token; visible in the process list, prefer --token-file")
    p.add_argument("--state-file", help=f"where to remember what was sent (default: FOLDER/{STATE_NAME})")
    p.add_argument("--interval", type=float, default=60, metavar="SECONDS", help="poll interval (default 60)")
    p.add_argument("--settle-seconds", type=float, default=30, metavar="SECONDS",
                   help="send a file once its size and mtime have not changed for this long (default 30)")
    p.add_argument("--once", action="store_true", help="scan, send, exit (for cron and tests)")
    p.add_argument("--max-backoff-seconds", type=float, default=300, metavar="SECONDS",
                   help="longest wait between retries while the server is away (default 300)")
    p.add_argument("--retry-for", type=float, default=600, metavar="SECONDS",
                   help="give up on a file for this pass after retrying this long; 0: never (default 600)")
    p.add_argument("--timeout", type=float, default=300, metavar="SECONDS", help="network timeout (default 300)")
    p.add_argument("--status", action="store_true",
                   help="print the server's processing state of each file sent, then exit")
    p.add_argument("--quiet", "-q", action="store_true", help="log warnings and errors only")
    p.add_argument("--verbose", "-v", action="store_true", help="log every decision")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def configure(argv) -> tuple[argparse.Namespace, Client]:
    """Parsed arguments and the client; SystemExit(2) with a clear message when something is off."""
    p = parser()
    args = p.parse_args(argv)
    if not args.server:
        p.error("say which ELN to send to: --server https://... or the environment variable ELN_SERVER")
    token = args.token
    if not token and args.token_file:
        try:
            with open(args.token_file, encoding="utf-8-sig") as file:  # -sig: Notepad's BOM
                token = file.read().strip()
        except OSError as exc:
            p.error(f"cannot read the token file: {exc}")
    token = token or os.environ.get("ELN_CYCLER_TOKEN", "").strip()
    if not token:
        p.error("give the cycler token: --token-file FILE or the environment variable ELN_CYCLER_TOKEN")
    if any(c.isspace() or not c.isprintable() for c in token):
        p.error("the cycler token has spaces or control characters in it: copy it again")
    if not os.path.isdir(args.folder):
        p.error(f"the folder {args.folder} does not exist")
    for name in ("interval", "settle_seconds", "max_backoff_seconds", "retry_for", "timeout"):
        if getattr(args, name) < 0 or (name in ("interval", "timeout") and getattr(args, name) == 0):
            p.error(f"--{name.replace('_', '-')} must be a positive number of seconds")
    try:
        client = Client(args.server, token, timeout=args.timeout)
    except ValueError as exc:
        p.error(str(exc))
    address = urllib.parse.urlsplit(args.server)
    if address.scheme == "http" and address.hostname not in ("localhost", "127.0.0.1", "::1"):
        log.warning("sending the cycler token unencrypted to %s: use https:// if the server offers it", args.server)
    args.state_file = args.state_file or os.path.join(args.folder, STATE_NAME)
    return args, client


def main(argv=None) -> int:
    handler = logging.StreamHandler()  # made per call: it writes to the current sys.stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    level = log.level
    log.addHandler(handler)
    try:
        try:
            args, client = configure(argv)
        except SystemExit as exc:  # argparse: --help, --version or a usage error (2)
            return exc.code if isinstance(exc.code, int) else 2
        log.setLevel(logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO)
        try:
            state = State.load(args.state_file)
            state.save()  # find out now, not after the first upload, if it cannot be written
        except OSError as exc:
            log.error("cannot write the state file %s (%s): choose another with --state-file", args.state_file, exc)
            return 2
        if args.status:
            return show_status(client, state)
        harvester = Harvester(client, args.folder, state, run=args.run, settler=scan.Settler(args.settle_seconds),
                              backoff=Backoff(args.max_backoff_seconds), retry_for=args.retry_for)
        try:
            return harvest(harvester, args)
        except ConfigError as exc:
            log.error("%s; stopping", exc)
            return 1
        except KeyboardInterrupt:
            log.info("stopped")
            return 0
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def harvest(harvester: Harvester, args) -> int:
    where = f"{args.folder} -> {args.run}" if args.run else args.folder
    log.info("harvesting %s to %s%s", where, args.server, " once" if args.once else f" every {args.interval:g} s")
    if args.once:
        result = harvester.run_pass()
        if result.pending:  # look again once they had time to settle
            time.sleep(args.settle_seconds)
            second = harvester.run_pass()
            result.sent, result.failed, result.pending = (result.sent + second.sent, result.failed + second.failed,
                                                          second.pending)
        if result.pending:
            log.info("%d file(s) still being written: left for the next run", result.pending)
        log.info("done: %d sent, %d failed", result.sent, result.failed)
        return 1 if result.failed else 0
    while True:
        result = harvester.run_pass()
        time.sleep(min(args.interval, args.settle_seconds) if result.pending else args.interval)


def show_status(client: Client, state: State) -> int:
    for key, entry in sorted(state.files.items()):
        line = f"{key}\t{entry.get('dataset') or '-'}\t{entry.get('result')}"
        if entry.get("dataset"):
            try:
                answer = client.status(entry["dataset"])
                line += f"\t{answer.get('state')}\t{answer.get('message') or ''}"
            except (ServerAway, ConfigError, Rejected) as exc:
                line += f"\t?\t{exc}"
        elif entry.get("message"):
            line += f"\t\t{entry['message']}"
        print(line.rstrip())
    return 0
