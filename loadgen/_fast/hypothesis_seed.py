"""A Hypothesis test seeded and keyed in the example database, which no public switch gives together.

Why: ``loadgen conform`` runs each property as a ``@given`` function built at run time, so the
properties' inner functions share one source text and therefore, by default, one example-database key;
and ``--capture-seed`` must make the search reproducible. The public ``@seed`` sets the seed but also
switches the example database off, so a failure found with a seed would not be replayed first on the
next run. :func:`seed_and_key` sets the two attributes Hypothesis's own ``@seed`` and
``find()`` set (``_hypothesis_internal_use_seed``, ``_hypothesis_internal_database_key``) without
touching the settings. Not a speed trick: the one place we touch Hypothesis's private attributes. Its
plain twin is :func:`seed_plain` (``@seed``), which draws the same examples but keeps nothing. Checked
against Hypothesis 6.170.17 (pinned ``>=6.130,<7``: both attributes predate 6.130, and the tests fail
on a version that renames them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import seed


def seed_plain(test: Callable[[], None], number: int | None) -> Callable[[], None]:
    """``@seed(number)`` on a ``@given`` test (the database off), or the test as is for no seed."""
    return test if number is None else seed(number)(test)


def seed_and_key(test: Callable[[], None], number: int | None, key: str) -> Callable[[], None]:
    """The ``@given`` test with its random seed (None: Hypothesis picks) and its own database key."""
    target: Any = test
    target._hypothesis_internal_database_key = key.encode()
    target._hypothesis_internal_use_seed = number
    return test


def seed_machine(machine: type[Any], number: int | None) -> None:
    """Seed a ``RuleBasedStateMachine`` as ``@seed`` would, keeping its settings' database."""
    machine._hypothesis_internal_use_seed = number
