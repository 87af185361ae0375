"""The served method's rank key: mean cell WRMSSE ratio to unreconciled, window by window."""

from __future__ import annotations

import pandas as pd
import pytest

from training.engine.hierarchy_choice import ratio_to_none


def scores(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    """Window scores from (method, cutoff, level, wrmsse) rows; every sku kind `sku`."""
    return pd.DataFrame([{"method": m, "cutoff": c, "level": lv, "skus": "sku", "wrmsse": w}
                         for m, c, lv, w in rows])


def test_ratio_to_none_averages_cells_then_cutoffs() -> None:
    """ols: cutoff 1 cells 0.5 and 1.0 (mean 0.75), cutoff 2 one cell 2.0: (0.75 + 2) / 2."""
    frame = scores([("none", 1, "node", 2.0), ("none", 1, "total", 4.0), ("none", 2, "node", 1.0),
                    ("ols", 1, "node", 1.0), ("ols", 1, "total", 4.0), ("ols", 2, "node", 2.0)])
    out = ratio_to_none(frame)
    assert out["ols"] == pytest.approx((0.75 + 2.0) / 2) and out["none"] == 1.0


def test_ratio_to_none_leaves_out_cells_where_none_is_zero_or_missing() -> None:
    """A cell where `none` scored 0 does not count; without `none` nothing is ranked."""
    frame = scores([("none", 1, "node", 0.0), ("none", 1, "total", 2.0),
                    ("ols", 1, "node", 5.0), ("ols", 1, "total", 1.0)])
    assert ratio_to_none(frame)["ols"] == 0.5
    assert ratio_to_none(frame[frame["method"] != "none"]).empty


def test_ratio_to_none_names_the_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"lack columns \['cutoff'\].*per_cutoff=True"):
        ratio_to_none(scores([("none", 1, "node", 1.0)]).drop(columns="cutoff"))
