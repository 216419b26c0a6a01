"""The one helper every negative control in the suite goes through.

A negative control checks a deliberately wrong formula against the same chains and expects a
rejection. ``not table.attrs["passed"]`` alone is vacuous: an empty table (no prediction
applied, an override that moved every row out of range, a formula id that changed) reads as
"not passed" too. :func:`assert_rejects` therefore asserts, in this order, that the table is
non-empty, that the targeted rows are present, and only then that at least one of them failed.
"""

from __future__ import annotations

import numpy as np


def _select(table, rows):
    mask = np.ones(len(table), dtype=bool)
    for column, wanted in rows.items():
        assert column in table.columns, f"negative control: the table has no column {column!r}"
        values = set(wanted) if isinstance(wanted, (set, frozenset, list, tuple)) else {wanted}
        present = set(table[column])
        missing = values - present
        assert not missing, (
            f"negative control: no row with {column} in {sorted(missing, key=str)} "
            f"(present: {sorted(present, key=str)})"
        )
        mask &= table[column].isin(values).to_numpy()
    return table[mask]


def assert_rejects(table, *, rows, each=False):
    """Assert that a negative-control ``check()`` table rejects the wrong theory.

    Args:
        table: the ``check(result, overrides=...)`` table of the deliberately wrong theory.
        rows: the targeted rows, as ``{column: value or collection of values}`` (e.g.
            ``{"formula": {"W2", "W3"}}`` or ``{"observable": "log_variance"}``); every listed
            value must occur in the table, and the rows matching all columns are the target.
        each: when True, every listed value of every column must have a failing row of its
            own (e.g. each of the formulas is rejected), not just one row of the target.

    Returns:
        The failing targeted rows.
    """
    assert len(table) > 0, "negative control on an empty table: nothing was tested"
    target = _select(table, rows)
    assert len(target) > 0, f"negative control: no row matches all of {rows}"
    failed = target[~target["pass"].to_numpy(dtype=bool)]
    assert len(failed) > 0, (
        f"the wrong theory was not rejected: all {len(target)} targeted rows {rows} pass"
    )
    if each:
        for column, wanted in rows.items():
            values = set(wanted) if isinstance(wanted, (set, frozenset, list, tuple)) else {wanted}
            missed = values - set(failed[column])
            assert not missed, f"the wrong theory was not rejected by {column} in {sorted(missed)}"
    return failed
