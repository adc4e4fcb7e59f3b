"""The paging of one ``find``, shared by both clients: pages by ``id > last``, never by offset.

Offsets skip or repeat records when writes land between pages; the last id does not. Sans-IO: the
client sends the parameters :meth:`Pages.next_params` gives and hands back each page's results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadgen import wire
from loadgen.errors import TransportError, UsageError


class Pages:
    """The state of one ``find``: the filter, what is left of ``limit``, and where the next page starts."""

    def __init__(self, filter: str | None, attributes: Sequence[str] | None, page_size: int,
                 limit: int | None) -> None:
        if not 1 <= page_size <= 10_000 or (limit is not None and limit < 0):
            raise UsageError(f"page_size must be 1 to 10000 (entity.find max_results) and limit not negative, "
                             f"got {page_size} and {limit}")
        self._filter, self._page_size, self._left, self._size = filter, page_size, limit, 0
        self._attributes = None if attributes is None else (  # paging needs the id
            wire.dumps([*attributes, *([] if "id" in attributes else ["id"])]))
        self._after: int | None = None
        self._started = False
        self._last: dict[str, Any] | None = None  # the last record of the previous page, when it was full

    def next_params(self) -> dict[str, str] | None:
        """The ``entity.find`` parameters of the next page, or None when the last page has been taken."""
        if self._started:
            if self._last is None:
                return None
            self._after = self._next_after(self._last)
        if self._left == 0:
            return None
        self._started = True
        self._size = self._page_size if self._left is None else min(self._page_size, self._left)
        clauses = [f"({self._filter})" if self._after is not None else self._filter] if self._filter else []
        if self._after is not None:
            clauses.append(f"id > {self._after}")
        params = {"sort_on": '["id"]', "max_results": str(self._size)}
        if clauses:
            params["filter"] = " and ".join(clauses)
        if self._attributes is not None:
            params["attributes"] = self._attributes
        return params

    def take(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of one answer's ``results`` (checked for where the next page starts only when it is
        asked for)."""
        page = results[:self._size]
        if self._left is not None:
            self._left -= len(page)
        self._last = page[-1] if len(page) == self._size else None
        return page

    def _next_after(self, last: dict[str, Any]) -> int:
        after = last.get("id")
        if not isinstance(after, int) or isinstance(after, bool):
            raise TransportError("entity.find: a result has no integer id, so the results cannot be paged")
        if self._after is not None and after <= self._after:
            raise TransportError(f"entity.find: the ids do not grow (id {after} after {self._after}): "
                                 "the filter was ignored")
        return after
