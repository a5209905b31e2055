"""Open the owner's crypto: nio's store for the bot's device, keys uploaded.

The device id is the one palm logged in with (kept in Redis with the token, see
``client.SessionStore``), so it is the same across restarts and across processes.
If the store of a device that already had keys is gone (``data_dir`` lost, not backed
up), its keys cannot be used again: the crypto client logs in as a new device (kept
in Redis as the crypto session) and palm says so loudly; residents' clients then see
a new, unverified device of the bot. The plain client keeps its device, so a send
resumed after a crash is still deduplicated by Synapse (txn ids are per device).
"""

from __future__ import annotations

import logging
from pathlib import Path

import nio

from adapters.matrix.client import SessionStore, StoredSession, new_device
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
    """The crypto client: ``plain``'s device, or the device made when its store was lost."""
    user = config.user_id
    mine = StoredSession(str(plain.device_id), str(plain.access_token))
    had = await sessions.crypto_session()
    # The login's own device (its token may have been renewed since), or the new
    # device made when an earlier store was lost.
    session = mine if had is None or had.device_id == mine.device_id else had
    path = store_file(store_dir, user, session.device_id)
    if had is not None and not path.exists():
        log.error(
            "matrix e2e: the crypto store of device %s is missing (%s): its keys are lost;"
            " logging in as a new device (restore data_dir from a backup to avoid this)",
            session.device_id,
            path,
        )
        session = await new_device(plain, config)
        log.warning("matrix e2e: now device %s", session.device_id)
    client = make_crypto_client(config.homeserver, user, store_dir, request_timeout)
    client.restore_login(user, session.device_id, session.access_token)  # loads the store
    crypto = Crypto(client, trust=config.e2e.trust)
    # Before the keys go up: a store lost from here on is then noticed at the next start.
    await sessions.mark_crypto(session)
    try:
        await crypto.start()
    except BaseException:
        await client.close()
        raise
    log.info(
        "matrix e2e: device %s ready (store %s, trust %s)",
        session.device_id,
        store_file(store_dir, user, session.device_id),
        config.e2e.trust,
    )
    return crypto
