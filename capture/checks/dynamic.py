"""The dynamic-shapes funnel: one compiled module against inputs of new sizes.

From the stored case, inputs of other sizes are derived along the dimensions
that can vary: the batch always, the sequence length or the spatial size where
the input family the deducer recorded (`found_by`: layer:embedding,
layer:conv2d, generic:seq, ...) says the module reads one. Each new size runs
in eager first: a size eager rejects is the module's limit, recorded and not
counted against the compiler. Then:

  - dynamic=None (torch's automatic dynamism): the module compiled at the
    stored size is called at each new size; per size: recompiles, torch's
    guard-failure reason for each, and parity against eager;
  - dynamic=True: a fresh compile at the stored size, then every size;
    whether it captures and passes (recorded, it does not decide the status).

Statuses: failures at the stored size as in inference (compile, parity);
compile or run failures at a new size: compile_failed / run_failed, stage
dynamic; parity at a new size: parity_failed, stage dynamic; no new size that
eager accepts: inputs_not_found, stage dynamic, reason no_other_size.
"""
from __future__ import annotations

import copy
from typing import Any

import torch

from backend import parity as parity_mod
from capture.deduce import specs
from capture.checks import steps
from capture import torch_api
from capture.deduce.inputs import BATCH, SEQ
from capture.checks.steps import Case, CaseEnded, counted_graphs, is_compile_error, move
from db.status import CaseStatus as S, Stage

NEW_BATCHES = (3, 4, 7)
LENGTH_SCALE = 1.5
SEQ_FAMILIES = ("embedding", "seq", "rnn", "attention", "transformer", "layernorm", "signal", "conv1d", "name:ids",
                "name:mask", "name:positions", "name:segment-ids")
GRAPH_FAMILIES = ("name:adjacency",)
SPATIAL_FAMILIES = ("conv2d", "conv3d", "convT2d", "convT3d", "image", "norm", "batchnorm")


def _tensors(spec: Any) -> list[dict[str, Any]]:
    if isinstance(spec, dict):
        if spec.get("kind") == "tensor":
            return [spec]
        items = spec.get("items", spec.get("attrs"))
        if isinstance(items, dict):
            return [t for v in items.values() for t in _tensors(v)]
        if isinstance(items, list):
            return [t for v in items for t in _tensors(v)]
        if "args" in spec or "kwargs" in spec:
            return [t for v in [*spec.get("args", []), *spec.get("kwargs", {}).values()] for t in _tensors(v)]
    return []


def _batch_dim(shape: list[int], batch: int) -> int | None:
    return next((i for i, n in enumerate(shape) if n == batch), None)


def derive_sizes(inputs: dict[str, Any], found_by: list[str] | None) -> list[tuple[str, dict[str, Any]]]:
    """(label, inputs spec) for each new size: batch first, then sequence or spatial length."""
    tensors = _tensors(inputs)
    if not tensors:
        return []
    batch = BATCH if any(BATCH in t["shape"] for t in tensors) else tensors[0]["shape"][0] if tensors[0]["shape"] else None
    out: list[tuple[str, dict[str, Any]]] = []
    rules = " ".join(found_by or [])
    graph = any(f in rules for f in GRAPH_FAMILIES)  # nodes x features + nodes x nodes: every node dim moves
    if batch:
        for b in NEW_BATCHES:
            if b == batch:
                continue
            new = copy.deepcopy(inputs)
            for t in _tensors(new):
                if graph:
                    t["shape"] = [b if n == batch else n for n in t["shape"]]
                    continue
                d = _batch_dim(t["shape"], batch)
                if d is not None:
                    t["shape"][d] = b
            out.append((f"batch={b}", new))
    first = tensors[0]["shape"]
    bd = _batch_dim(first, batch) if batch else None
    start = (bd if bd is not None else -1) + 1
    if any(f in rules for f in SPATIAL_FAMILIES) and len(first) >= 3:
        old = first[2]
        new_len = max(2, int(old * LENGTH_SCALE))
        new = copy.deepcopy(inputs)
        for t in _tensors(new):
            t["shape"] = [new_len if i >= 2 and n == old else n for i, n in enumerate(t["shape"])]
        out.append((f"spatial={new_len}", new))
    elif any(f in rules for f in SEQ_FAMILIES) and SEQ in first[start:]:
        new_len = max(2, int(SEQ * LENGTH_SCALE))
        new = copy.deepcopy(inputs)
        for t in _tensors(new):  # the first dimension after the batch that has the stored length
            d = next((i for i in range(start, len(t["shape"])) if t["shape"][i] == SEQ), None)
            if d is not None:
                t["shape"][d] = new_len
        out.append((f"length={new_len}", new))
    return out


def run(c: Case) -> None:
    """The dynamic funnel after load, build and eager (see the module docstring)."""
    variants = derive_sizes(c.spec["inputs"], c.req.get("found_by") or c.result.get("found_by"))
    steps.compile(c)
    counted_graphs(c)
    if steps.nondeterministic(c):
        return
    steps.parity(c)
    records: list[dict[str, Any]] = []
    c.result.update(sizes=records, recompiles=0, recompile_reasons=[])
    if not c.parity.ok:
        steps.verdict(c)  # parity at the stored size already fails: as inference says it
    c.announce(Stage.DYNAMIC)
    accepted: list[tuple[dict[str, Any], list[Any], dict[str, Any], Any]] = []
    with c.timed("dynamic"):
        for label, inputs in variants:
            rec: dict[str, Any] = {"size": label, "shapes": [t["shape"] for t in _tensors(inputs)]}
            records.append(rec)
            c.checkpoint()
            args, kwargs = specs.materialize_call(inputs, specs.make_generator(c.spec.get("seed", 0)))
            args, kwargs = move(args, c.device), move(kwargs, c.device)
            try:
                want = c.call(c.module, args, kwargs)
            except Exception as exc:  # noqa: BLE001 - the module's own limit, not the compiler's
                rec.update(eager="rejected", error=torch_api.first_line(f"{type(exc).__name__}: {exc}")[:300])
                continue
            rec["eager"] = "ok"
            frames, metrics = torch_api.frames_compiled(), torch_api.compilation_count()
            try:
                got = c.call(c.compiled, args, kwargs)
            except Exception as exc:  # noqa: BLE001
                status = S.COMPILE_FAILED if is_compile_error(exc) else S.RUN_FAILED
                rec["compiled"] = status.value
                raise CaseEnded(status, Stage.DYNAMIC, exc, sizes=records) from None
            rec["recompiles"] = torch_api.frames_compiled() - frames
            rec["reasons"] = torch_api.recompile_reasons(metrics)
            c.result["recompiles"] += rec["recompiles"]
            c.result["recompile_reasons"] += rec["reasons"]
            p = _parity(c, want, got, args, kwargs)
            rec.update(parity=p.ok, max_abs_err=p.max_abs_err)
            accepted.append((rec, args, kwargs, want))
            c.checkpoint()  # a case killed at a later size keeps the sizes tried
    c.result.update(sizes_tried=len(accepted), sizes_rejected=len(records) - len(accepted))
    with c.timed("dynamic_true"):
        c.result["dynamic_true"] = _dynamic_true(c, accepted)
    if not accepted:
        raise CaseEnded(S.INPUTS_NOT_FOUND, Stage.DYNAMIC, ValueError(
            f"eager accepts no other input size ({', '.join(r['size'] for r in records) or 'none derivable'})"),
            reason="no_other_size", sizes=records)
    bad = next((rec for rec, *_ in accepted if not rec["parity"]), None)
    if bad is not None:
        raise CaseEnded(S.PARITY_FAILED, Stage.DYNAMIC, AssertionError(
            f"compiled output at {bad['size']} differs from eager: max_abs_err={bad['max_abs_err']}"), sizes=records)
    c.result["status"] = S.PASS.value


def _parity(c: Case, want: Any, got: Any, args: list[Any], kwargs: dict[str, Any]) -> parity_mod.Parity:
    def reference() -> Any:
        try:
            return c.call(copy.deepcopy(c.module).double(), parity_mod.to_fp64(args), parity_mod.to_fp64(kwargs))
        except Exception:  # noqa: BLE001
            return None
    return parity_mod.compare(want, got, tol=float(c.req.get("tol", parity_mod.DEFAULT_TOL)), reference=reference)


def _dynamic_true(c: Case, accepted: list[tuple[dict[str, Any], list[Any], dict[str, Any], Any]]) -> str:
    """dynamic=True from a fresh compile: 'pass', or the status of the first size it fails at."""
    torch_api.reset()
    compiled = torch.compile(c.module, backend=c.req.get("backend", "inductor"), dynamic=True,
                             mode=c.req.get("compile_mode") or None)
    runs = [(None, c.args, c.kwargs, c.eager_out)] + [(rec, a, k, w) for rec, a, k, w in accepted]
    frames = None
    for rec, args, kwargs, want in runs:
        try:
            got = c.call(compiled, args, kwargs)
        except Exception as exc:  # noqa: BLE001
            return S.COMPILE_FAILED.value if is_compile_error(exc) else S.RUN_FAILED.value
        if frames is None:
            frames = torch_api.frames_compiled()
        elif rec is not None:
            rec["recompiles_dynamic_true"] = torch_api.frames_compiled() - frames
            frames = torch_api.frames_compiled()
        if not _parity(c, want, got, args, kwargs).ok:
            return S.PARITY_FAILED.value
    return S.PASS.value
