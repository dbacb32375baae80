"""TorchScript for the `hf` engine's per-step functions, with a Python fallback.

Why: the engine's scheduler thread shares the GIL with the asyncio event loop that runs
the rollout (and with the prefill thread). A function made of many small torch calls
waits for the GIL after every one of them while the loop runs Python; scripted, it runs
all of them in the TorchScript interpreter with the GIL released (see `_lean_kernels`).
`torch.jit.script` is deprecated in favour of `torch.compile`, which on a CPU needs a C++
compiler at run time and recompiles for every new batch shape — not a fit for steps whose
shapes change every call — so the deprecation warning is silenced here, on purpose.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import torch

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def scripted(function: F) -> F:
    """`function` scripted, once per process; `function` itself if TorchScript cannot
    compile it (the same aten calls, holding the GIL between them). The result's
    `script` attribute is the compiled function, or None.

    Calls run with the graph executor's optimisations off (a thread-local switch): no
    profiling re-specialisation as the batch's shapes change every step, and no fusion of
    elementwise operations — on a GPU that would compute a bf16 chain in float32 and
    round differently from the model's own forward. On the CPU it costs nothing
    (measured: 3.44–3.82 ms per 13-row step either way)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            compiled = torch.jit.script(function)
    except Exception as exc:  # noqa: BLE001 — the same arithmetic runs as Python
        log.warning("TorchScript could not compile %s (%s: %s); it runs as Python", function.__qualname__,
                    type(exc).__name__, exc)
        function.script = None  # type: ignore[attr-defined]
        return function

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        with torch.jit.optimized_execution(False):
            return compiled(*args)

    call.script = compiled  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]
