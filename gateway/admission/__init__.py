"""Chat admission and flood limits: who may reach the queue, and how fast.

- ``gate``: new groups and rooms register as ``pending`` (``admission: approve``), get
  one "awaiting approval" notice, are never selected, and their messages open nothing;
  admins approve or reject them.
- ``leave``: a rejected chat is left by the bot, durably (a set in Redis that every
  ``palm run`` works off).
- ``flood``: per-resident and per-chat limits on tickets, messages, acknowledgements
  and help texts, shared by every process through Redis.
- ``share``: acknowledgements and help texts get at most half of a bot's send rate.
"""
