"""The forked-process harness reports a worker that raised: its exit code is not 0."""

from __future__ import annotations

from processes import in_child, run, until_idle, workers


@in_child
def _returns() -> None:
    until_idle(lambda: [])


@in_child
def _raises() -> None:
    raise RuntimeError("the worker failed")


def test_a_worker_that_returns_exits_0_and_one_that_raises_exits_1() -> None:
    assert run(workers(2, _returns) + workers(1, _raises)) == [0, 0, 1]


def test_until_idle_stops_after_that_many_empty_batches_in_a_row() -> None:
    answers = iter([[1], [], [2], [], [], []])
    calls: list[int] = []

    def batch() -> list[int]:
        calls.append(1)
        return next(answers)

    until_idle(batch)
    assert len(calls) == 6
