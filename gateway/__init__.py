"""Palm Gateway: one announcement out to every chat, every resident's message into one queue."""

__version__ = "0.1.0"
