"""The inbound funnel: the inbound stream -> routing -> one Redis-backed ticket queue.

- ``routing``: a pure function deciding what one resident message means.
- ``tickets``: the ticket store (atomic Lua scripts, indexes for listing).
- ``ticket_model``: what a ticket is (status, fields, stored message JSON); no Redis.
- ``consumer``: the consumer-group loop over the inbound stream.
- ``staff``: claim / reply / resolve, shared by the CLI and the API.
- ``stats``: queue depth and ages, for ``palm queue stats``, ``GET /queue`` and metrics.
"""
