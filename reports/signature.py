"""Failure signatures: what makes two failures "the same bug".

Why normalize: the same Inductor lowering error shows up in 300 projects
with 300 different shapes, tensor names and file paths in its message. Masking
the parts that vary between call sites (numbers, shapes, hex addresses,
quoted names, paths) leaves the part that names the bug, so triage can group
by it and rank bugs by how many cases and projects they hit.

The cluster id is a short hash of the signature: stable across runs and
machines, so an id seen in last week's triage still names the same cluster.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from db.status import failure_kind

MAX_MSG = 2000     # characters of the raw message looked at
MAX_NORM = 300     # characters of the normalized message kept

# Each pass runs only when the message has the character it needs (cheap
# `in` tests), and each pattern starts on a distinctive character, because
# triage normalizes tens of thousands of messages per report.
_QUOTED = re.compile(r"""'[^'\n]{1,200}'|"[^"\n]{1,200}"|`[^`\n]{1,200}`""")
_HEX = re.compile(r"0x[0-9a-fA-F]+\b")
_ABS_PATH = re.compile(r"(?<![\w.~])(?:[A-Za-z]:)?[~.]{0,2}/[\w.+@-]+(?:/[\w.+@-]+)+/?")     # /a/b, ./a/b, ~/a/b
_REL_PATH = re.compile(r"\b[\w.-]+(?:/[\w.-]+)+\.(?:py|pyi|so|cpp|c|h|cu|json|yaml|yml|txt|pt|pth)\b")  # a/b.py
_SHAPE = re.compile(r"[\[(]\s*-?\d+(?:\s*,\s*-?\d+)*\s*,?\s*[\])]")                     # [2, 3], (4,)
_DIMS = re.compile(r"(?<![A-Za-z_\d])\d+(?:x\d+)+(?![A-Za-z_\d])")                          # 2x16, 3x224x224
_NUM = re.compile(r"(?<![A-Za-z_\d.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_\d])")
_DIGITS = frozenset("0123456789")


@functools.lru_cache(maxsize=65536)
def normalize_message(msg: str | None) -> str:
    """Mask quoted names, hex addresses, paths, shapes and numbers; collapse whitespace.

    >>> normalize_message("shape '[2, 3, 32]' is invalid for input of size 191")
    'shape <q> is invalid for input of size <n>'
    """
    if not msg:
        return ""
    text = msg[:MAX_MSG]
    if "'" in text or '"' in text or "`" in text:
        text = _QUOTED.sub("<q>", text)
    if "0x" in text:
        text = _HEX.sub("<hex>", text)
    if "/" in text:
        text = _ABS_PATH.sub("<path>", text)
        if "/" in text and "." in text:
            text = _REL_PATH.sub("<path>", text)
    if not _DIGITS.isdisjoint(text):
        if "[" in text or "(" in text:
            text = _SHAPE.sub("<shape>", text)
        if "x" in text:
            text = _DIMS.sub("<shape>", text)
        text = _NUM.sub("<n>", text)
    return " ".join(text.split())[:MAX_NORM]


def first_break_id(break_ids: str | list[str] | None) -> str | None:
    """The first non-empty graph-break id of a result (`break_ids` JSON list)."""
    if not break_ids:
        return None
    ids = _json_list(break_ids) if isinstance(break_ids, str) else break_ids
    for item in ids:
        if item:
            return str(item)
    return None


@functools.lru_cache(maxsize=65536)
def _json_list(text: str) -> tuple[Any, ...]:
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    return tuple(value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class Signature:
    """The fields two failures must share to land in one cluster."""

    status: str
    stage: str | None
    error_type: str | None
    message: str
    frame: str | None
    break_id: str | None
    reason: str | None = None      # results.reason, when the worker set one (e.g. no_tensor_ops)
    flaky: bool = False            # results.flaky: the confirming rerun did not repeat it
    export_class: str | None = None  # export runs: the failure class (data_dependent, no_fake_kernel, ...)

    @property
    def kind(self) -> str | None:
        """'compiler', 'harness' or 'flaky' (db.status.failure_kind)."""
        return failure_kind(self.status, self.stage, self.reason, self.flaky)

    @property
    def cluster_id(self) -> str:
        return cluster_id(self)

    def as_dict(self) -> dict[str, Any]:
        return dict(asdict(self), kind=self.kind)


def signature(status: str, stage: str | None, error_type: str | None, error_msg: str | None,
              error_frame: str | None, break_ids: str | list[str] | None,
              reason: str | None = None, export_class: str | None = None, flaky: Any = None) -> Signature:
    """The signature of one result row."""
    return Signature(status=status, stage=stage or None, error_type=error_type or None,
                     message=normalize_message(error_msg), frame=error_frame or None,
                     break_id=first_break_id(break_ids), reason=reason or None, export_class=export_class or None,
                     flaky=bool(flaky))


def cluster_id(sig: Signature) -> str:
    """8 hex digits of a SHA-1 over the signature's fields (stable, short); the reason and
    the export failure class and the flaky mark join the key only when set, so ids of results without them never changed."""
    fields: list[Any] = [sig.status, sig.stage, sig.error_type, sig.message, sig.frame, sig.break_id]
    if sig.reason:
        fields.append(sig.reason)
    if sig.export_class:
        fields.append(f"export:{sig.export_class}")
    if sig.flaky:
        fields.append("flaky")
    key = json.dumps(fields)
    return hashlib.sha1(key.encode()).hexdigest()[:8]
