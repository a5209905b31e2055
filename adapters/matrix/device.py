"""Open the owner's crypto: nio's store for the bot's device, keys uploaded.

The device id is the one palm logged in with (kept in Redis with the token, see
``client.SessionStore``), so it is the same across restarts and across processes.
If the store of a device that already had keys is gone (``data_dir`` lost, not backed
up), its keys cannot be used again: palm logs in as a new device and says so loudly;
residents' clients then see a new, unverified device of the bot.
"""

from __future__ import annotations

import logging
from pathlib import Path

import nio

from adapters.matrix.client import SessionStore, new_device
from adapters.matrix.crypto import Crypto, make_crypto_client, store_file
from gateway.config import MatrixConfig

log = logging.getLogger(__name__)


async def open_crypto(
    plain: nio.AsyncClient,
    config: MatrixConfig,
    sessions: SessionStore,
    store_dir: Path,
    request_timeout: float,
) -> Crypto:
    """The crypto client for ``plain``'s device (which may change to a new device)."""
    user = config.user_id
    had_keys = await sessions.crypto_device()
    path = store_file(store_dir, user, str(plain.device_id))
    if had_keys == plain.device_id and not path.exists():
        log.error(
            "matrix e2e: the crypto store of device %s is missing (%s): its keys are lost;"
            " logging in as a new device (restore data_dir from a backup to avoid this)",
            plain.device_id,
            path,
        )
        await new_device(plain, config, sessions)
        log.warning("matrix e2e: now device %s", plain.device_id)
    client = make_crypto_client(config.homeserver, user, store_dir, request_timeout)
    client.restore_login(user, str(plain.device_id), str(plain.access_token))  # loads the store
    crypto = Crypto(client, trust=config.e2e.trust)
    # Before the keys go up: a store lost from here on is then noticed at the next start.
    await sessions.mark_crypto(str(plain.device_id))
    try:
        await crypto.start()
    except BaseException:
        await client.close()
        raise
    log.info(
        "matrix e2e: device %s ready (store %s, trust %s)",
        plain.device_id,
        store_file(store_dir, user, str(plain.device_id)),
        config.e2e.trust,
    )
    return crypto
