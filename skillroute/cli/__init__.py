"""The ``skillroute`` command line: commands apart from their rendering."""

from ._commands import main

__all__ = ["main"]
