"""Results leave the workspace: tables (CSV / Parquet / JSON), a FiftyOne-importable
folder, and one self-contained HTML report. See docs/export.md."""
