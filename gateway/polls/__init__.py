"""Consultations (云协商): one poll across Telegram and Matrix, one vote per resident.

``model``: the poll and its texts; ``store``: Redis (votes counted by one Lua script
keyed on the platform's update id, so a replay after ``kill -9`` counts nothing twice);
``service``: create and close through the outbox; ``inbound``: the funnel hook for
votes, numbered replies and comments; ``tally``: ``show``'s counts.
"""

from gateway.polls import model, service, views
from gateway.polls.model import ORIGIN, Poll, PollId, parse_id

__all__ = ["ORIGIN", "Poll", "PollId", "model", "parse_id", "service", "views"]
