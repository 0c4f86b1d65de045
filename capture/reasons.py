"""A short machine-readable reason next to a failed case's status.

Why: a status says where a case stopped; the reason says why, in the few
classes a user reading the funnel needs told apart from real failures:

- `needs_network`: the class downloads weights (torch.hub, urlopen,
  from_pretrained) while it is built or run; the sandbox has no network,
  rightly, so this is not a graphcrawl or compiler failure.
- `not_a_model`: an abstract base or a module without `forward` (its forward
  raises NotImplementedError, "missing the required forward function",
  "Can't instantiate abstract class"): it stays in the denominator, shown
  apart, so a user sees how much of it is real models.

`classify(result)` reads only the result's error fields; an explicitly set
`reason` is never overwritten (the caller keeps it).
"""
from __future__ import annotations

import re
from typing import Any

NEEDS_NETWORK = "needs_network"
NOT_A_MODEL = "not_a_model"
LABELS = {NEEDS_NETWORK: "needs network: downloads weights", NOT_A_MODEL: "not a runnable model"}

_NETWORK = re.compile(
    r"urlopen error|Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"Failed to establish a new connection|Max retries exceeded with url|getaddrinfo failed|"
    r"couldn't connect to 'https?://|Connection refused|No address associated with hostname|"
    r"nodename nor servname|LocalEntryNotFoundError|OfflineModeIsEnabled|"
    r"We couldn't connect to|Cannot find the requested files in the (disk )?cache", re.I)
_DOWNLOAD_FRAMES = re.compile(
    r"load_state_dict_from_url|download_url_to_file|torch/hub\.py|urllib/request\.py|"
    r"from_pretrained|hf_hub_download|requests/adapters\.py|http/client\.py|socket\.py")
_ABSTRACT = re.compile(r"Can't instantiate abstract class|missing the required \"?forward\"? function|"
                       r"_forward_unimplemented")
_FAILED = {"import_failed", "init_failed", "inputs_not_found", "eager_failed"}


def classify(result: dict[str, Any]) -> str | None:
    """The reason class of a failed case, or None when it is an ordinary failure (or no failure)."""
    if result.get("status") not in _FAILED:
        return None
    etype = result.get("error_type") or ""
    msg = result.get("error_msg") or ""
    tb = result.get("traceback") or ""
    if _NETWORK.search(msg) or (etype in ("URLError", "HTTPError", "ConnectionError", "gaierror", "OSError",
                                          "TimeoutError", "socket.gaierror") and _DOWNLOAD_FRAMES.search(tb)):
        return NEEDS_NETWORK
    if result.get("status") == "import_failed":
        return None
    if _ABSTRACT.search(msg) or _ABSTRACT.search(tb[-3000:]):
        return NOT_A_MODEL
    if etype == "NotImplementedError" and _raised_in_forward(tb, msg):
        return NOT_A_MODEL
    return None


def _raised_in_forward(tb: str, msg: str) -> bool:
    """NotImplementedError raised by the module's own forward/__init__ (a base left for subclasses)."""
    if re.search(r"aten::|Could not run|not implemented for|backend|dtype|sparse|quantiz", msg, re.I):
        return False  # torch's own "this op is not implemented" errors are real failures
    frames = re.findall(r'File "[^"]+", line \d+, in (\w+)', tb)
    if not frames:
        return not msg
    return frames[-1] in ("forward", "__init__", "_forward", "_forward_impl") or not msg


def is_network_error(exc: BaseException) -> bool:
    """An exception that means "this wanted the network" (retrying other args will not help)."""
    seen = 0
    while exc is not None and seen < 5:
        if type(exc).__name__ in ("URLError", "gaierror", "ConnectionError", "LocalEntryNotFoundError") \
                or _NETWORK.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return False
