"""/tokens and /users through the API (admin without a scope)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from gateway.runtime import Runtime
from tests.accounts.conftest import Office

Client = TestClient[object, object]


async def test_token_routes(client: Client, office: Office) -> None:
    admin = office.tokens["admin"]
    made = await client.post(
        "/api/v1/tokens",
        json={"name": "ci", "role": "viewer", "scope": "building:5", "expires": "12h"},
        headers=admin,
    )
    assert made.status == 201
    body = await made.json()
    assert (body["name"], body["role"], body["scope"]) == ("ci", "viewer", "building:5")
    assert 43000 < body["expires"] - body["created"] <= 43200
    new = {"Authorization": f"Bearer {body['token']}"}
    me = await (await client.get("/api/v1/whoami", headers=new)).json()
    assert me == {"name": "ci", "role": "viewer", "scope": "building:5"}
    listed = await (await client.get("/api/v1/tokens", headers=admin)).json()
    assert {t["name"] for t in listed} == {"admin", "admin_a", "staff_a", "viewer_a5", "ci"}
    assert body["token"] not in str(listed)
    again = await client.post(
        "/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers=admin
    )
    assert again.status == 409
    for bad in ({"name": "x", "role": "viewer", "expires": "soon"},
                {"name": "x", "role": "viewer", "scope": "a &"},
                {"name": "x", "role": "root"}):  # fmt: skip
        resp = await client.post("/api/v1/tokens", json=bad, headers=admin)
        assert resp.status == 400, bad
        assert (await resp.json())["error"]["message"]
    assert (await client.delete("/api/v1/tokens/ci", headers=admin)).status == 200
    assert (await client.get("/api/v1/whoami", headers=new)).status == 401
    gone = await client.delete("/api/v1/tokens/ci", headers=admin)
    assert gone.status == 404
    staff = await client.delete("/api/v1/tokens/admin", headers=office.tokens["staff_a"])
    assert staff.status == 403


async def test_user_routes(client: Client, office: Office, runtime: Runtime) -> None:
    admin = office.tokens["admin"]
    made = await client.post(
        "/api/v1/users",
        json={"name": "wang", "role": "staff", "password": "tank cleaning", "scope": "compound:a"},
        headers=admin,
    )
    assert made.status == 201
    assert "password" not in await made.json()
    dup = await client.post(
        "/api/v1/users", json={"name": "wang", "role": "staff", "password": "12345678"},
        headers=admin,
    )  # fmt: skip
    assert dup.status == 409
    short = await client.post(
        "/api/v1/users", json={"name": "li", "role": "staff", "password": "123"}, headers=admin
    )
    assert short.status == 400
    patched = await client.patch(
        "/api/v1/users/wang", json={"disabled": True, "password": "another one"}, headers=admin
    )
    assert patched.status == 200
    assert (await patched.json())["disabled"] is True
    listed = await (await client.get("/api/v1/users", headers=admin)).json()
    assert [(u["name"], u["disabled"]) for u in listed] == [("wang", True)]
    missing = await client.patch("/api/v1/users/nobody", json={"disabled": True}, headers=admin)
    assert missing.status == 404
    stored = await runtime.redis.hget(runtime.keys("user", "wang"), "password")
    assert stored is not None
    assert stored.startswith("$argon2id$")


async def test_openapi_describes_the_new_routes(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    assert set(paths["/api/v1/tokens"]) == {"get", "post"}
    assert "delete" in paths["/api/v1/tokens/{name}"]
    assert set(paths["/api/v1/users"]) == {"get", "post"}
    assert "patch" in paths["/api/v1/users/{name}"]
