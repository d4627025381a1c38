"""The `fdal` command: one entry point for the whole workflow.

    fdal quickstart                      the whole loop on generated data, nothing to download
    fdal prepare-data / train-teacher / al / export / compare      training side (needs PyTorch)
    fdal rank / merge / info / bench     device side (numpy + the native runtime)
    fdal cycle init/pick/import/train/status   a labeling campaign on your own images
    fdal plot                            results.jsonl -> learning curves + markdown table

Subcommands that need PyTorch import it when they run, so `fdal info`/`rank`/`bench` work on a
board that only has numpy.
"""
from __future__ import annotations

import argparse
import sys

from . import cycle, errors, export_cmd, info, merge_cmd, plot, quickstart, rank, train

# Order of the subcommands in `fdal --help`: the story from first run to deployment.
_MODULES = (quickstart, train, export_cmd, rank, cycle, merge_cmd, info, plot)


def build_parser() -> argparse.ArgumentParser:
    from fdal import __version__
    parser = argparse.ArgumentParser(
        prog="fdal", description="FDAL active learning on small devices: train, export int8, rank pools.",
        epilog="example:\n  fdal quickstart            # the whole loop in a few minutes, nothing to download\n"
               "  fdal <command> --help      # options and an example for each command",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fdal {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for module in _MODULES:
        module.register(sub)
    return parser


def main(argv=None) -> int:
    from .common import attach_negative_values, guard_closed_stdout
    guard_closed_stdout()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(attach_negative_values(parser, argv))
    except errors.CliError as exc:  # --help or --version with stdout closed
        return errors.report(exc)
    args.argv = argv  # for "resume with: fdal ..."
    try:
        if args.command is None:
            parser.print_help()
            return 2
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, inside the BrokenPipeError handler below
        return code
    except BrokenPipeError:
        # `fdal info m | head -1`: the reader went away; end quietly as other Unix tools do. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the signal
    except errors.NeedsTorch as exc:
        return errors.report(exc)
    except (errors.CliError, ValueError, OSError, ImportError) as exc:
        if args.debug:
            raise
        if isinstance(exc, ImportError) and exc.name == "torch":
            return errors.report(errors.NeedsTorch())
        return errors.report(exc)
    except KeyboardInterrupt:
        pass
    # Interrupted: the message is printed once the exception (and the frames it holds) is gone, so
    # that progress bars closed by their generators' cleanup cannot redraw below it.
    import gc
    gc.collect()
    print(getattr(args, "interrupted_message", None) or "fdal: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
