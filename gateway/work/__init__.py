"""Edit and recall as background work: the API and the console answer 202 at once.

``submit`` records the work and puts it on a Redis stream; the ``work`` component of
every ``palm run`` takes it (consumer group, so one process does each) and records each
chat's result as it comes; ``results`` reads them for ``GET /announcements/{id}`` and the
console. The CLI's ``palm announcements edit|recall`` keeps calling
``gateway.announcements`` directly and waits, as before.
"""

from gateway.work.runner import run_work
from gateway.work.store import WorkStore, submit

__all__ = ["WorkStore", "run_work", "submit"]
