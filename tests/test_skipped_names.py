"""capture/loading/tolerant.py's SkippedName: what a skipped statement's names hold.

The crawl-level behaviour (an import of such a name works, a use fails naming
the statement) is in test_import_patterns.py; these pin the stand-in's manners
that the checks rely on: a deepcopy of a module holding one (the fp64
reference), dunder probes answered as absent, and the names a statement binds.
"""
from __future__ import annotations

import ast
import copy
import pickle

import pytest
import torch

from capture.loading.tolerant import SkippedName, _unparsed_names, bind_skipped


def test_every_use_fails_naming_the_skipped_statement() -> None:
    edges = SkippedName("EDGES", "templates.py:9")
    for use in (lambda: edges.shape, lambda: edges + 1, lambda: bool(edges), lambda: edges[0], lambda: edges(),
                lambda: len(edges), lambda: list(edges), lambda: torch.as_tensor(edges)):
        with pytest.raises(NameError, match=r"'EDGES' is not defined: its top-level statement \(templates.py:9\)"):
            use()


def test_copies_and_probes_behave_as_for_any_object() -> None:
    edges = SkippedName("EDGES", "templates.py:9")
    holder = torch.nn.Module()
    holder.edges = edges
    assert repr(copy.deepcopy(holder).edges) == repr(edges) == "<EDGES: skipped at templates.py:9>"
    assert repr(pickle.loads(pickle.dumps(edges))) == repr(edges)
    assert not hasattr(edges, "__torch_function__") and not hasattr(edges, "__deepcopy__")


def test_the_names_a_skipped_statement_binds() -> None:
    namespace = {"kept": 1}
    stmt = ast.parse("if cfg.ok:\n    kept, (a, *rest) = load()\n    def helper(): inner = 2\n"
                     "    table = {k: v for k, v in items}\nelse:\n    class Fallback: field = 3\n").body[0]
    bind_skipped(namespace, stmt, "m.py:1")
    assert namespace["kept"] == 1                                  # bound before the failure: left alone
    assert sorted(k for k, v in namespace.items() if isinstance(v, SkippedName)) == \
        ["Fallback", "a", "helper", "rest", "table"]               # not `inner`, `field`, `k`, `v`: nested scopes


def test_the_names_of_a_statement_that_does_not_parse() -> None:
    lines = ["@register", "@cache(2)", "def report(net):", "    print net", "class Old(object):",
             "x, y = 1, 2", "if verbose:", "print x"]
    assert _unparsed_names(lines, 1) == ["report"]
    assert _unparsed_names(lines, 5) == ["Old"]
    assert _unparsed_names(lines, 6) == ["x", "y"]
    assert _unparsed_names(lines, 7) == [] and _unparsed_names(lines, 8) == []
