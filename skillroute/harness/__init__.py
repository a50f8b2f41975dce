"""Where skillroute meets an agent: the HTTP server, the Claude Code hook, the history harvester and
``doctor``.
"""

from .._lazy import attach

_LOCATIONS = {
    "Agreement": "._agree",
    "agreement": "._agree",
    "read_host_labels": "._agree",
    "Check": "._doctor",
    "run_checks": "._doctor",
    "Turn": "._harvest",
    "harvest": "._harvest",
    "harvest_file": "._harvest",
    "parse_log": "._harvest",
    "log_kind": "._harvest",
    "is_tool_made": "._harvest",
    "mask_secrets": "._harvest",
    "trim": "._harvest",
    "text_sha256": "._harvest",
    "run_hook": "._hook",
    "hook_output": "._hook",
    "DEFAULT_THRESHOLD": "._hook",
    "keymap": "._label",
    "queue": "._label",
    "done_keys": "._label",
    "append_label": "._label",
    "read_unlabelled": "._label",
    "create_app": "._server",
    "MAX_BODY_BYTES": "._server",
    "DEFAULT_PORT": "._server",
    "issue_token": "._token",
    "read_token": "._token",
    "proof": "._token",
}
__all__ = sorted(_LOCATIONS)
__getattr__, __dir__ = attach(__name__, _LOCATIONS)
