"""Admission fixtures: the funnel pipeline on a runtime with ``admission: approve``."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gateway.config import GatewayConfig
from gateway.keys import Keys
from gateway.runtime import Runtime, instance_name
from tests.e2e.conftest import fake_tg as fake_tg
from tests.e2e.conftest import make_palm as make_palm
from tests.funnel.conftest import Pipeline
from tests.funnel.conftest import funnel as funnel  # the open-mode pipeline, re-exported
from tests.matrix.conftest import admin as admin
from tests.matrix.conftest import new_user as new_user
from tests.matrix.conftest import synapse as synapse


@pytest.fixture
def approve_config(config: GatewayConfig) -> GatewayConfig:
    return config.model_copy(update={"admission": "approve"})


@pytest.fixture
async def approve_rt(approve_config: GatewayConfig, redis: Redis, keys: Keys) -> Runtime:
    return Runtime(approve_config, redis, redis, keys, instance_name())


@pytest.fixture
async def gate_funnel(approve_rt: Runtime) -> Pipeline:
    p = Pipeline(approve_rt)
    await p.consumer.start()
    return p
