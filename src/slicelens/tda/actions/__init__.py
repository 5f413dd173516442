"""The actions of training-data attribution as data changes (a family, see ``base``):

* ``remove`` - drop the group (weights 0);
* ``relabel`` - App. C.4's new labels (:func:`relabel_targets`);
* ``upweight`` - multiply the group's weights by ``factor`` (App. C.4 uses 10);
* ``add`` - the nearest pool samples with oracle labels, else the upweighting proxy.

A :class:`Change` is the concrete result on one group; :func:`make_change` makes it by
action name. A new action is one module of this package (see ``docs/architecture.md``).
"""

from slicelens.tda.actions.add import nearest_pool
from slicelens.tda.actions.base import (
    ACTION_FAMILY,
    Action,
    Change,
    get_action,
    make_change,
    register_action,
)
from slicelens.tda.actions.relabel import relabel_targets

__all__ = ["ACTION_FAMILY", "Action", "Change", "get_action", "make_change", "nearest_pool",
           "register_action", "relabel_targets"]
