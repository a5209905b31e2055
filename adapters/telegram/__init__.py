"""The Telegram adapter (python-telegram-bot 22): see ``adapter.TelegramAdapter``."""

from adapters.telegram.adapter import TelegramAdapter

__all__ = ["TelegramAdapter"]
