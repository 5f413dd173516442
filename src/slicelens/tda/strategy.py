"""Moved: the repair strategy ``tda-action`` lives in :mod:`slicelens.repair.tda_action`
(every module of ``slicelens.repair`` is searched for strategies, so no extra list)."""

from slicelens.repair.tda_action import TDAAction, TDAActionParams

__all__ = ["TDAAction", "TDAActionParams"]
