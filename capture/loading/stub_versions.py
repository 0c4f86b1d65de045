"""The version a stubbed package claims, and what to try when an import-time check rejects it.

Why: packages check their dependencies at import (`assert digit_version(lo) <=
digit_version(mmcv.__version__) <= digit_version(hi)`, `raise ImportError(f"DEP=={v}
is used but incompatible")`). A stub's version starts high (`DEFAULT`, so `>= min`
checks pass); when an import fails on a line or message that names a stubbed
package's version, `candidates` reads the versions the failing check itself names
(string constants of the raising frame and the message) and the loader retries
with them, lowest first, so a range check gets its minimum.
"""
from __future__ import annotations

import re
import traceback
from types import FrameType, TracebackType
from typing import Iterable

DEFAULT = "99.0.0"
VERSION = re.compile(r"(?<![\w.])(\d+\.\d+(?:\.\d+)?(?:(?:rc|a|b|\.dev|\.post)\d*)?)(?![\w.]*\d)")
FULL = re.compile(r"^v?\d+\.\d+(?:\.\d+)?(?:(?:rc|a|b|\.dev|\.post)\d*)?$")
MAX_RETRIES = 4


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def _frames(tb: TracebackType | None) -> list[FrameType]:
    out = []
    while tb is not None:
        out.append(tb.tb_frame)
        tb = tb.tb_next
    return out


def concerned(exc: BaseException, stubbed: Iterable[str], checkout: str) -> tuple[str | None, list[str]]:
    """(stubbed package the failed check is about, versions it names) or (None, [])."""
    msg = str(exc)
    frames = [f for f in _frames(exc.__traceback__) if f.f_code.co_filename.startswith(checkout)]
    if not frames:
        return None, []
    frame = frames[-1]
    try:
        line = traceback.extract_stack(frame, limit=1)[0].line or ""
    except (IndexError, ValueError):
        line = ""
    text = f"{msg}\n{line}"
    if "version" not in text.lower() and DEFAULT not in text:
        return None, []
    # the stubbed packages and the names the module binds them to (`import mmcv_full as mmcv`)
    names = {r: r for r in stubbed}
    for alias, value in list(frame.f_globals.items()) + list(frame.f_locals.items()):
        if getattr(value, "__graphcrawl_stub__", False) and getattr(value, "__name__", "").split(".")[0] in stubbed:
            names[alias] = value.__name__.split(".")[0]
    roots = [names[a] for a in names if re.search(rf"\b{re.escape(a)}\b", text, re.I)]
    if not roots:
        # the check reads a local (`mmcv_version = digit_version(mmcv.__version__)`): any stubbed
        # package whose version the frame's source reads
        try:
            import inspect
            src = inspect.getsource(frame)
        except (OSError, TypeError):
            src = ""
        roots = [names[a] for a in names if re.search(rf"\b{re.escape(a)}\.__version__", src)]
    if not roots:
        return None, []
    found = {m.group(1) for m in VERSION.finditer(msg)}
    for scope in (frame.f_locals, frame.f_globals):
        for value in list(scope.values()):
            if isinstance(value, str) and FULL.match(value):
                found.add(value.lstrip("v"))
    found.discard(DEFAULT)
    return roots[0], sorted(found, key=_key)
