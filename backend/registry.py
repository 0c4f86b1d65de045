"""Which `torch.compile` backends a run may name, checked before any case runs."""
from __future__ import annotations


class UnknownBackend(ValueError):
    """The backend name is not registered with torch._dynamo."""


def list_backends() -> list[str]:
    import torch._dynamo
    names = set(torch._dynamo.list_backends(exclude_tags=()))
    return sorted(names | {"eager", "aot_eager", "inductor"})


def check_backend(name: str) -> str:
    if name not in list_backends():
        raise UnknownBackend(f"unknown backend {name!r}; registered: {', '.join(list_backends())}")
    return name
