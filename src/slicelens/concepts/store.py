"""Concept answers in the workspace database, like slice marks.

One row per (image, annotator): an answer is a ``sample`` annotation with
``scope="aaca"``, ``target_id`` = the image id, ``author`` = the annotator and the answer
(class, confounded and valid concepts, time taken) as JSON in ``description``. A second
answer of the same annotator on the same image edits that row (recorded in its history);
an undone answer is kept and not counted until redone; an answer given after an undo is
a new row that supersedes the undone one (which can then no longer be redone, so there
is never more than one active row per image and annotator). Every write returns once the
SQLite commit is on disk (:class:`~slicelens.store.db.AnnotationStore`), so a caller
acknowledges only what is stored.

Example
-------
>>> ws = Workspace("slicelens-workspace"); run = ws.latest_run()            # doctest: +SKIP
>>> save_answer(ws, run, ConceptAnswer("ana", "val/7.png", "0-4", ["brick"], ["digit"]))
...                                                                           # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from slicelens.concepts.answers import ConceptAnswer
from slicelens.errors import ConflictError, DataError
from slicelens.store.db import Annotation, Event

if TYPE_CHECKING:
    from slicelens.store.run import Run
    from slicelens.store.workspace import Workspace

SCOPE = "aaca"
LABEL = "concepts"


def _ws(workspace: Workspace, where: str) -> Workspace:
    """``workspace``, or a TypeError when given a path (only the shells open workspaces)."""
    from slicelens.store.workspace import require_workspace

    return require_workspace(workspace, where)


def _payload(a: ConceptAnswer) -> str:
    return json.dumps({"label": a.label, "confounded": a.confounded, "valid": a.valid,
                       "seconds": a.seconds}, sort_keys=True)


def answer_of(ann: Annotation) -> ConceptAnswer:
    """The :class:`ConceptAnswer` a stored row holds."""
    try:
        d = json.loads(ann.description)
    except ValueError:
        raise DataError(f"annotation {ann.id} does not hold a concept answer",
                        field="description") from None
    return ConceptAnswer(ann.author, ann.target_id, d.get("label", ""), d.get("confounded", []),
                         d.get("valid", []), d.get("seconds"))


def list_answers(workspace: Workspace, run: Run, include_undone: bool = False) -> list[Annotation]:
    """Stored concept answers of ``run``, oldest first."""
    return _ws(workspace, "list_answers").db.list(run_id=run.id, target_type="sample", scope=SCOPE,
                                  include_undone=include_undone)


def answers(workspace: Workspace, run: Run) -> list[ConceptAnswer]:
    """The answers in force (active rows) of ``run``."""
    return [answer_of(a) for a in list_answers(workspace, run)]


def save_answer(workspace: Workspace, run: Run, answer: ConceptAnswer) -> Annotation:
    """Store ``answer`` (author = its worker): a new row, or an edit of the annotator's
    active row on that image. The image must be a sample of ``run``."""
    known = set(run.samples["id"].astype(str))
    if answer.image_id not in known:
        raise DataError(f"image {answer.image_id!r} is not a sample of run {run.id}",
                        field="image_id")
    db = _ws(workspace, "save_answer").db
    mine = [a for a in list_answers(workspace, run)
            if a.target_id == answer.image_id and a.author == answer.worker]
    if mine:
        if mine[-1].description == _payload(answer):
            return mine[-1]
        return db.edit(mine[-1].id, description=_payload(answer), author=answer.worker)
    ann_id = db.add(run.id, "sample", answer.image_id, LABEL, _payload(answer),
                    author=answer.worker, scope=SCOPE)
    return db.get(ann_id)


def _check(db, annotation_id: int) -> Annotation:
    ann = db.get(annotation_id)
    if ann.target_type != "sample" or ann.scope != SCOPE:
        raise DataError(f"annotation {annotation_id} is not a concept answer", field="id")
    return ann


def undo_answer(workspace: Workspace, annotation_id: int, author: str = "anonymous") -> Annotation:
    """Withdraw an answer (kept, status ``undone``)."""
    db = _ws(workspace, "undo_answer").db
    _check(db, annotation_id)
    return db.undo(annotation_id, author)


def redo_answer(workspace: Workspace, annotation_id: int, author: str = "anonymous") -> Annotation:
    """Reinstate an undone answer, unless the annotator has answered that image again
    since (the newer answer supersedes it: :class:`ConflictError`)."""
    db = _ws(workspace, "redo_answer").db
    ann = _check(db, annotation_id)
    newer = [a for a in db.list(run_id=ann.run_id, target_type="sample", scope=SCOPE)
             if a.target_id == ann.target_id and a.author == ann.author and a.id != ann.id]
    if newer:
        raise ConflictError(f"answer {annotation_id} of {ann.author!r} on {ann.target_id!r} "
                            f"was superseded by answer {newer[-1].id}; it cannot be redone")
    return db.redo(annotation_id, author)


def last_answer(workspace: Workspace, run: Run, worker: str,
                status: str = "active") -> Annotation | None:
    """The most recently changed answer of ``worker`` on ``run`` with ``status``
    (``active``: what "undo the last answer" withdraws; ``undone``: what redo restores),
    or None."""
    rows = [a for a in list_answers(workspace, run, include_undone=True)
            if a.author == worker and a.status == status]
    return max(rows, key=lambda a: (a.updated_at, a.id)) if rows else None


def answer_history(workspace: Workspace, annotation_id: int) -> list[Event]:
    """Every event of one answer, oldest first."""
    db = _ws(workspace, "answer_history").db
    _check(db, annotation_id)
    return db.history(annotation_id)
