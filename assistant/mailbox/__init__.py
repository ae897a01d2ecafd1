"""The mailbox: mail in from IMAP (`polling`), replies out through SMTP (`sending`), and
the outbox that makes each reply leave exactly once (`outbox`). The same ingest and
workflow core as files and the CLI; `servers` reads the two URLs from the settings.
"""
