"""Kinds of candidate training groups (a family, see ``base``): ``label``, ``pred``,
``confusion`` (:mod:`.classes`), ``slice``, ``attribute``, ``knn`` and ``sample``. A new
kind is one module of this package (see ``docs/architecture.md``)."""
