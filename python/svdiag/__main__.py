"""The ``svdiag`` command, installed with the package: the same commands, flags, output and exit codes
as the binary built with cargo (both run the same Rust code)."""

import signal
import sys

from . import _native


def main() -> int:
    # Python's SIGINT handler would only raise once the Rust code returned: restore the default so
    # that Ctrl-C stops the command at once, as it stops the binary.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return _native.cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
