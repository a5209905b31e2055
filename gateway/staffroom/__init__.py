"""Staff rooms: staff work the queue from a Telegram group or a Matrix room.

- ``config``: the ``staff_rooms:`` list (target, optional scope); pure, no I/O.
- ``cards``: what a card and a status line say, per ticket (pure rendering).
- ``feed``: the component that turns ticket events into cards, card edits,
  follow-ups under the card and live status edits, all through the outbox.
- ``acting``: what a member's reply, command or button press in a room does.

A staff room is never an announcement audience and its messages never open tickets.
"""
