"""Group commit: concurrent records share a transaction; each caller still gets its own result."""

from __future__ import annotations

import asyncio

import pytest

from cds_service.audit.group_commit import GroupCommit


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_concurrent_items_share_batches_and_each_gets_its_result() -> None:
    batches: list[list[int]] = []

    async def write(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        await asyncio.sleep(0.01)  # a commit takes time: the next callers queue meanwhile
        return [ValueError(f"{item} refused") if item == 13 else item * 10 for item in items]

    group: GroupCommit[int, int] = GroupCommit(write)
    results = await asyncio.gather(*(group.submit(i) for i in range(40)), return_exceptions=True)
    assert [r for r in results if not isinstance(r, BaseException)] == [i * 10 for i in range(40) if i != 13]
    assert isinstance(results[13], ValueError)
    assert sorted(i for batch in batches for i in batch) == list(range(40))  # nothing lost or doubled
    assert len(batches) < 40  # shared transactions


@pytest.mark.anyio
async def test_a_failed_batch_fails_every_waiter_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def write(items: list[str]) -> list[str | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database down")
        return list(items)

    group: GroupCommit[str, str] = GroupCommit(write)
    with pytest.raises(ConnectionError):
        await group.submit("first")
    assert await group.submit("second") == "second"
