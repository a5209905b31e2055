"""Accounts, API tokens and scopes: who may do what, and on which chats."""

from gateway.accounts.principal import Principal, Role
from gateway.accounts.scope import (
    Scope,
    check_audience,
    check_retag,
    check_target,
    targets_in_scope,
)
from gateway.accounts.tokens import TOKEN_PREFIX, TokenInfo, TokenStore
from gateway.accounts.users import User, UserStore

__all__ = [
    "TOKEN_PREFIX",
    "Principal",
    "Role",
    "Scope",
    "TokenInfo",
    "TokenStore",
    "User",
    "UserStore",
    "check_audience",
    "check_retag",
    "check_target",
    "targets_in_scope",
]
