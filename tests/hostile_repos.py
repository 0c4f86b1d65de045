"""Hostile fixture modules: each tries one escape or one way to kill the run.

Every file holds one class `Evil`; what it does happens at import or in
forward. Placeholders in {braces} are filled by the test (a port, a path).
"""
from __future__ import annotations

HEADER = "import os, sys, socket, signal, time\nimport torch\nimport torch.nn as nn\n"

PLAIN_FORWARD = '''
class Evil(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x)
'''

HOSTILE = {
    # name: (module body before the class, expected status, expected stage or None)
    "net_connect": ('''
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"escaped")
    raise RuntimeError("CONNECTED")
except OSError as exc:
    raise RuntimeError("DENIED: " + str(exc))
''', "import_failed", "import"),
    "write_home": ('''
errors = []
for path in ({home_target!r}, os.path.expanduser("~/graphcrawl_escape")):
    try:
        open(path, "w").write("escaped")
    except OSError as exc:
        errors.append(str(exc))
''', "pass", None),
    "write_tmp": ('''
try:
    open({tmp_target!r}, "w").write("escaped")
except OSError:
    pass
''', "pass", None),
    "write_checkout": ('''
try:
    open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ESCAPED.txt"), "w").write("x")
except OSError:
    pass
''', "pass", None),
    "read_secret": ('''
try:
    data = open({secret!r}).read()
    raise RuntimeError("READ: " + data)
except OSError as exc:
    raise RuntimeError("DENIED: " + str(exc))
''', "import_failed", "import"),
    "fork_bomb": ('''
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
''', "timeout", "import"),
    "busy_loop": ('''
while True:
    pass
''', "timeout", "import"),
    "huge_alloc": ('''
big = torch.empty(64 * 1024 ** 3, dtype=torch.uint8)
big.fill_(1)
''', "oom", "import"),
    "segfault": ('''
import ctypes
ctypes.string_at(0)
''', "crash", "import"),
    "exit_midcase": ('', "crash", None),  # forward calls os._exit(0)
    "patch_torch": ('''
torch._graphcrawl_patched = True
torch.nn.functional.relu = lambda x, *a, **k: x * 0
torch.Tensor.__add__ = lambda self, other: self
''', "pass", None),
    "flood_output": ('''
chunk = "x" * 1024 * 1024 + "\\n"
for _ in range(100):
    sys.stdout.write(chunk)
''', "crash", "import"),
}

EXIT_FORWARD = '''
class Evil(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        os._exit(0)
'''

CLEAN_AFTER_PATCH = '''
class Evil(nn.Module):
    """Runs after patch_torch in the same worker: must see an untouched torch."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        if getattr(torch, "_graphcrawl_patched", False):
            raise RuntimeError("saw the previous case's monkeypatch")
        y = torch.nn.functional.relu(self.lin(x))
        return y + 1
'''


CLEAN_AFTER_TMP = '''
if os.path.exists({tmp_target!r}):
    raise RuntimeError("saw the previous case's file in /tmp")


class Evil(nn.Module):
    """Runs after write_tmp in the same worker: its private /tmp must be empty again."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x)
'''


def hostile_files(**fill: object) -> dict[str, str]:
    """{relpath: source} for every hostile module, placeholders filled."""
    files = {}
    for name, (body, _, _) in HOSTILE.items():
        cls = EXIT_FORWARD if name == "exit_midcase" else PLAIN_FORWARD
        files[f"{name}.py"] = HEADER + body.format(**fill) + cls
    files["clean_after_patch.py"] = HEADER + CLEAN_AFTER_PATCH
    files["clean_after_tmp.py"] = HEADER + CLEAN_AFTER_TMP.format(**fill)
    return files
