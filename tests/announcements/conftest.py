"""Fixtures borrowed from the end-to-end and Matrix suites (palm run, fake Bot API, Synapse)."""

from tests.e2e.conftest import fake_tg, make_palm
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "fake_tg", "make_palm", "new_user", "synapse"]
