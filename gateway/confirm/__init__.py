"""Notices that must be read: residents confirm, staff see a roll-up and remind.

- ``buttons``: the ✅ button on Telegram (pure).
- ``store``: one confirmation per resident per announcement (Redis ``HSETNX``).
- ``inbound``: the funnel hook: button presses, ✅ reactions, replies like 收到.
- ``delivery``: when a notice is out, the bot's ✅ on Matrix and the chat's members.
- ``rollup``: per chat and per building (households), and who has not confirmed.
- ``remind``: one message per chat mentioning those who have not confirmed.
"""
