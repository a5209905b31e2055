"""The HTTP skeleton: auth, roles, error shape, health, metrics and OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.http.server import build_app
from gateway.runtime import Runtime
from gateway.tokens import Role, TokenStore


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(runtime))) as c:
        yield c


async def _token(rt: Runtime, role: Role) -> dict[str, str]:
    token = await TokenStore(rt.redis, rt.keys).create(f"t-{role.label}", role)
    return {"Authorization": f"Bearer {token}"}


async def test_health_ready_metrics_need_no_token(client: TestClient[object, object]) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"]["redis"] == "ok"
    metrics = await (await client.get("/metrics")).text()
    assert 'palm_build_info{version="0.1.0"} 1.0' in metrics


async def test_missing_and_bad_tokens_get_401(client: TestClient[object, object]) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        resp = await client.get("/api/v1/whoami", headers=headers)
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "unauthorized"
        assert body["error"]["message"]


async def test_roles(client: TestClient[object, object], runtime: Runtime) -> None:
    viewer = await _token(runtime, Role.VIEWER)
    admin = await _token(runtime, Role.ADMIN)
    assert (await client.get("/api/v1/whoami", headers=viewer)).status == 200
    denied = await client.post(
        "/api/v1/tokens", json={"name": "x", "role": "staff"}, headers=viewer
    )
    assert denied.status == 403
    assert (await denied.json())["error"]["code"] == "forbidden"
    made = await client.post("/api/v1/tokens", json={"name": "x", "role": "staff"}, headers=admin)
    assert made.status == 201
    new = (await made.json())["token"]
    me = await client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {new}"})
    assert await me.json() == {"name": "x", "role": "staff"}


async def test_tokens_are_stored_hashed(runtime: Runtime) -> None:
    token = await TokenStore(runtime.redis, runtime.keys).create("a", Role.ADMIN)
    keys = [k async for k in runtime.redis.scan_iter(match=runtime.keys.prefix + "*")]
    assert keys
    for key in keys:
        assert token not in key
        assert token not in str(await runtime.redis.hgetall(key))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"name": "x"}', "role: Field required"),
        ('{"name": "x", "role": "god"}', "role:"),
        ('{"name": "x", "role": "staff", "extra": 1}', "extra: unknown field"),
        ("[1, 2]", "Input should be"),
    ],
)
async def test_bad_bodies_are_400_never_500(
    client: TestClient[object, object], runtime: Runtime, body: str, message: str
) -> None:
    admin = await _token(runtime, Role.ADMIN)
    resp = await client.post(
        "/api/v1/tokens", data=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert resp.status == 400
    err = (await resp.json())["error"]
    assert err["code"] == "bad_request"
    assert message in err["message"]


async def test_unknown_paths_get_the_json_error_shape(
    client: TestClient[object, object],
) -> None:
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    resp = await client.delete("/healthz")
    assert resp.status == 405


async def test_openapi_lists_the_served_routes(client: TestClient[object, object]) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/api/v1/tokens"]
    schema = doc["paths"]["/api/v1/tokens"]["post"]["requestBody"]["content"]
    assert "role" in schema["application/json"]["schema"]["properties"]
