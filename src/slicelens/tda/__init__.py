"""Training-data attribution for groups of errors (needfinding study, papers/002).

Modules: ``params`` (TDAParams, the axes' names), ``problem`` (run arrays, head refit),
``head`` (the convex head: fit, gradient, Hessian), ``groups`` (error groups and candidate
training groups), ``actions`` (remove / relabel / upweight / add as data changes),
``estimate`` (influence estimate and exact retraining), ``stats`` (paired effects),
``attribute`` (the ranked answer), ``result`` (typed rows, ``to_plan``), ``labels``
(wrong-label detection), ``report`` (printable rows), ``strategy`` (repair strategy
``tda-action``). Run-level entry points: ``slicelens.pipeline.tda``.
"""
