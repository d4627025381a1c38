"""Wall-clock seconds per phase of a cycle (data, teacher, decoder, student, sampler, ...), recorded in
results.jsonl as `phase_seconds` so that a trial's profile comes with its results.

Phases nest exclusively: time spent in an inner phase (the teacher's forward inside a training
step) is not counted again in the outer one (the student's step). A module timed with
`time_module` counts its forward and its backward (autograd hooks) in its phase. On CUDA the
kernels run asynchronously, so phases are only exact on CPU, which is what the profile is for.
"""
from __future__ import annotations

import time
from contextlib import contextmanager


class PhaseTimer:
    def __init__(self):
        self.seconds: dict = {}
        self._stack: list = []  # [name, start, seconds of inner phases] per open phase

    def _push(self, name: str) -> None:
        self._stack.append([name, time.perf_counter(), 0.0])

    def _pop(self, name: str) -> None:
        if not self._stack or self._stack[-1][0] != name:
            raise RuntimeError(f"phase {name!r} closed out of order")  # a bug in the caller, not input
        _, start, inner = self._stack.pop()
        elapsed = time.perf_counter() - start
        self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - inner
        if self._stack:
            self._stack[-1][2] += elapsed

    @contextmanager
    def phase(self, name: str):
        self._push(name)
        try:
            yield
        finally:
            self._pop(name)

    def time_module(self, module, name: str) -> list:
        """Count `module`'s forward and backward passes in phase `name`; returns the hook handles.
        The backward hooks need an input that requires grad (the decoder's z does)."""
        return [module.register_forward_pre_hook(lambda m, i: self._push(name)),
                module.register_forward_hook(lambda m, i, o: self._pop(name)),
                module.register_full_backward_pre_hook(lambda m, g: self._push(name)),
                module.register_full_backward_hook(lambda m, gi, go: self._pop(name))]

    def rounded(self, digits: int = 3) -> dict:
        return {k: round(v, digits) for k, v in sorted(self.seconds.items())}
