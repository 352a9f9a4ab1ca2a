"""python -m bench {modes,intake,pipeline,read,changes,embedded,reference} [options]; `python -m bench CMD --help`."""

import argparse
import importlib
import signal
import sys

from .stack import BenchError

COMMANDS = {
    "modes": "the three intake modes side by side with the paper's Tables 1–3",
    "intake": "single-ad and batch intake (direct mode) against a bare DRF POST ceiling",
    "pipeline": "drain rate of a preloaded intake queue, per-stage cost, lag under steady load",
    "read": "read-by-id and list throughput and latency over a large read table",
    "changes": "the cost of changing an ad against submitting one, side by side",
    "embedded": "`make run` from a fresh clone: time until 1,200 ads are final on the embedded default",
    "reference": "every bench on the shipped defaults, its figures and charts kept in bench/reference/",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"bench.{name}")
        sub = commands.add_parser(
            name, help=help_text, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    args = parser.parse_args(argv)

    def stop(signum, frame):
        raise SystemExit(128 + signum)  # unwinds every Stack: children are stopped

    signal.signal(signal.SIGTERM, stop)
    try:
        args.run(args)
    except BenchError as error:
        print(f"bench {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
