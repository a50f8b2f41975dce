"""``python -m skillroute.cli``: the command line, for the hook's background ``warm``."""

from . import main

main()
