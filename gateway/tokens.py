"""Kept for old imports: the accounts package owns roles, principals and tokens now."""

from gateway.accounts.principal import Principal, Role
from gateway.accounts.tokens import TOKEN_PREFIX, TokenStore, _digest

__all__ = ["TOKEN_PREFIX", "Principal", "Role", "TokenStore", "_digest"]
