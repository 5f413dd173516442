"""The annotation database's schema and the labels it accepts (see ``store.db``).

Every statement is ``IF NOT EXISTS``: opening an older database adds the tables it
lacks (e.g. ``annotation_members``, ``idempotency_keys``) and changes nothing else.
"""

from __future__ import annotations

#: Allowed labels per target type; ``None`` means free text.
LABELS: dict[str, frozenset[str] | None] = {
    "slice": frozenset({"core", "spurious", "wrong_labels"}),
    "concept": frozenset({"valid", "confounded"}),
    "sample": None,
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS annotators (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    target_type TEXT NOT NULL CHECK (target_type IN ('slice', 'sample', 'concept')),
    target_id TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL REFERENCES annotators(name),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'undone'))
);
CREATE INDEX IF NOT EXISTS annotations_target ON annotations (run_id, target_type, scope);
CREATE TABLE IF NOT EXISTS annotation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    annotation_id INTEGER NOT NULL REFERENCES annotations(id),
    action TEXT NOT NULL CHECK (action IN ('create', 'edit', 'undo', 'redo')),
    payload TEXT NOT NULL,
    author TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS annotation_events_ann ON annotation_events (annotation_id);
-- history is append-only: the database itself refuses to rewrite it
CREATE TRIGGER IF NOT EXISTS annotation_events_no_update BEFORE UPDATE ON annotation_events
BEGIN SELECT RAISE(ABORT, 'annotation_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS annotation_events_no_delete BEFORE DELETE ON annotation_events
BEGIN SELECT RAISE(ABORT, 'annotation_events is append-only'); END;
-- the sample ids a slice mark was made on (JSON list): marks follow their images when
-- slices are recomputed (slicelens.feedback.anchoring)
CREATE TABLE IF NOT EXISTS annotation_members (
    annotation_id INTEGER PRIMARY KEY REFERENCES annotations(id),
    members TEXT NOT NULL
);
-- Idempotency-Key of a create request -> the annotation it made (a client that retries
-- an unacknowledged request gets the same mark, not a second one)
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    annotation_id INTEGER NOT NULL REFERENCES annotations(id),
    request TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS concept_answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    concept TEXT NOT NULL,
    answer TEXT NOT NULL,
    worker TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""
