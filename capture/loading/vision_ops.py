"""torchvision without its C++ extension: the Python package imports, its C++ ops say they are missing.

Why: PyPI's torchvision wheels link their `_C` extension against CUDA torch,
so beside a CPU torch (this project's pinned 2.13.0+cpu) the extension does
not load, and torchvision's own Python then fails at import: its
`_meta_registrations.py` registers fake kernels for `torchvision::nms` and
friends, ops only the extension defines ("operator torchvision::nms does not
exist"). Every crawled file that imports torchvision (the most-stubbed
package of the samples: torchvision.models, .transforms, .ops) met a stub
instead, and timm, which imports torchvision, could not be installed at all.

`install` defines the ops' schemas (not their kernels) where the extension
does not load, before crawled code imports torchvision. The models,
transforms and every other pure-Python part then run as they would with a
working torchvision: no stub, nothing to record. Calling one of the C++ ops
(nms, roi_align, deform_conv2d, ...) raises torchvision's own "Couldn't load
custom C++ ops", so a module that needs one fails eager with that reason,
which is honest: this environment cannot run it. Where the extension loads
(a CUDA torch with its matching torchvision), nothing is defined.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

# The ops torchvision's extension registers (csrc/ops/*.cpp), as the extension spells them.
SCHEMAS: dict[str, str] = {
    "nms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "box_iou_rotated": "(Tensor boxes1, Tensor boxes2) -> Tensor",
    "roi_align": "(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
                 "int sampling_ratio, bool aligned) -> Tensor",
    "_roi_align_backward": "(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, "
                           "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width, "
                           "int sampling_ratio, bool aligned) -> Tensor",
    "qroi_align": "(Tensor input, Tensor rois, float input_scale, int input_zero_point, float rois_scale, "
                  "int rois_zero_point, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
                  "int sampling_ratio, bool aligned) -> Tensor",
    "roi_pool": "(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width) "
                "-> (Tensor, Tensor)",
    "_roi_pool_backward": "(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, SymInt pooled_height, "
                          "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width) "
                          "-> Tensor",
    "ps_roi_align": "(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
                    "int sampling_ratio) -> (Tensor, Tensor)",
    "_ps_roi_align_backward": "(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
                              "SymInt pooled_height, SymInt pooled_width, int sampling_ratio, SymInt batch_size, "
                              "SymInt channels, SymInt height, SymInt width) -> Tensor",
    "ps_roi_pool": "(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width) "
                   "-> (Tensor, Tensor)",
    "_ps_roi_pool_backward": "(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
                             "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
                             "SymInt height, SymInt width) -> Tensor",
    "deform_conv2d": "(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, SymInt stride_h, "
                     "SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, SymInt dilation_w, "
                     "SymInt groups, SymInt offset_groups, bool use_mask) -> Tensor",
    "_deform_conv2d_backward": "(Tensor grad, Tensor input, Tensor weight, Tensor offset, Tensor mask, "
                               "Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, "
                               "SymInt dilation_h, SymInt dilation_w, SymInt groups, SymInt offset_groups, "
                               "bool use_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
}

_state: dict[str, object] = {}  # "answer": install's result; "library": the Library holding the schemas


def extension_loads() -> bool | None:
    """Whether torchvision's `_C` extension loads here (None: torchvision is not installed)."""
    try:
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for lib in sorted(Path(folder).glob("_C*.so")) + sorted(Path(folder).glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(lib))   # what torchvision's extension.py does; loading twice is a no-op
                return True
            except (OSError, ImportError, RuntimeError):
                return False
    return False


def _has_op(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def install() -> list[str]:
    """Define the schemas of the ops the extension would have (idempotent); returns the ops defined.

    Only where torchvision is installed, not yet imported, and its extension does not load.
    """
    if "answer" in _state:
        return list(_state["answer"])  # type: ignore[call-overload]
    defined: list[str] = []
    if "torchvision" not in sys.modules and extension_loads() is False:
        library = torch.library.Library("torchvision", "FRAGMENT")
        for name, schema in SCHEMAS.items():
            if not _has_op(name):
                library.define(name + schema)
                defined.append(name)
        _state["library"] = library   # kept alive: a Library's definitions go when it is collected
    _state["answer"] = defined
    return list(defined)
