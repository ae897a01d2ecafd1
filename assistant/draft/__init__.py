"""Drafting: a reply grounded in the policy, with the sections it relies on cited.

`local` writes drafts from templates, `grounding` checks every draft, `promises` reads a
reply for a promise of a senior review, `translation_check` compares a translation with
its English. Import the module you need: the approval gate must not load the templates.
"""
