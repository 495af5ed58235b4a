"""The ``svdiag`` command, installed with the package: the same commands, flags, output and exit codes
as the binary built with cargo (both run the same Rust code). With ``--ray ADDRESS`` (``analyze``,
``trend``, ``compare``), the matrices are computed on a Ray cluster (:mod:`svdiag.distributed`;
``--ray local`` starts one on this machine) and the document is written as JSON (or CSV for trend
and compare)."""

import os
import signal
import sys
import tempfile

from . import _native


def _take(argv: list[str], *names: str) -> str | None:
    """Removes ``NAME VALUE`` (or ``NAME=VALUE``) from ``argv``; the last one's value."""
    value = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if name in names and (eq or i + 1 < len(argv)):
            value = inline if eq else argv[i + 1]
            del argv[i : i + (1 if eq else 2)]
        else:
            i += 1
    return value


def _distributed(argv: list[str]) -> int:
    from . import distributed
    from .exceptions import SvdiagError

    argv = list(argv)
    address = _take(argv, "--ray")
    output = _take(argv, "-o", "--output")
    fmt = _take(argv, "-f", "--format") or ("csv" if output and output.endswith(".csv") else "json")
    if not argv or argv[0] not in ("analyze", "trend", "compare"):
        print("error: --ray distributes analyze, trend and compare", file=sys.stderr)
        return 2
    if fmt not in ("json", "csv") or (fmt == "csv" and argv[0] == "analyze"):
        print(f"error: with --ray, {argv[0]} writes json{' or csv' if argv[0] != 'analyze' else ''}", file=sys.stderr)
        return 2
    try:
        kind, text, second, code = distributed.command(argv, address=address)
    except SvdiagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    body = text if fmt == "json" else second
    if kind == "analysis":  # (json, columns, failed matrices)
        code = 1 if code else 0
    if output:
        # never a partial output file: written beside it, then renamed over it
        folder = os.path.dirname(os.path.abspath(output))
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".partial") as f:
            f.write(body)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(f.name, 0o666 & ~umask)  # as a file the command writes directly, not the temporary's 0600
        os.replace(f.name, output)
    else:
        sys.stdout.write(body)
    s = distributed.last_sweep
    print(f"sweep: {s.planned} matrices, {s.skipped} already stored, {s.computed} computed on the cluster, "
          f"{len(s.failed)} failed", file=sys.stderr)
    return int(code)


def main() -> int:
    argv = sys.argv[1:]
    if any(a == "--ray" or a.startswith("--ray=") for a in argv):
        return _distributed(argv)
    # Python's SIGINT handler would only raise once the Rust code returned: restore the default so
    # that Ctrl-C stops the command at once, as it stops the binary.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return _native.cli(argv)


if __name__ == "__main__":
    sys.exit(main())
