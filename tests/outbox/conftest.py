"""The end-to-end fixtures (`palm run` against the fake Bot API) for the outbox tests."""

from tests.e2e.conftest import fake_tg, make_palm

__all__ = ["fake_tg", "make_palm"]
