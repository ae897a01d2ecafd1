"""Batch evaluation of triage (and drafts) for any backend: datasets in, metrics and reports out.

The pieces are separate so each can be tested alone: `dataset` reads cases, `runner` sends
them through a backend into rows, `metrics` and `drafts` score rows, `report` and `compare`
present results, `cli` is the `assistant eval` edge.
"""
