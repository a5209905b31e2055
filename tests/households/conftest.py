"""Household tests drive `palm run` like tests/e2e (fake Bot API, real Synapse)."""

from tests.e2e.conftest import fake_tg, make_palm
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "fake_tg", "make_palm", "new_user", "synapse"]
