"""The ``skillroute`` command line: the group and shared options (``_app``), the commands by layer
(``_route``, ``_eval``, ``_author``, ``_fit``, ``_harness``) and their terminal rendering (``_render``)."""

from . import _author, _eval, _fit, _harness, _route  # noqa: F401 - each module registers its commands
from ._app import main

__all__ = ["main"]
