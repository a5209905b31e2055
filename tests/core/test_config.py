"""Config loading: every mistake is one message naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config_load import load_config
from gateway.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "palm.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis: {urll: redis://x}\n", "redis.urll: unknown key"),
        ("lokale: zh\n", "lokale: unknown key"),
        ("locale: fr\n", "locale: Input should be 'zh' or 'en'"),
        ("http: {listen: 8080}\n", "http.listen:"),
        ("http: {listen: 'localhost'}\n", "http.listen: expected HOST:PORT"),
        ("redis: {url: http://x}\n", "redis.url: must start with redis://"),
        (
            "platforms:\n  telegram: {token_env: PALM_TEST_UNSET_VAR}\n",
            "platforms.telegram.token_env: environment variable PALM_TEST_UNSET_VAR is not set",
        ),
        ("platforms:\n  telegram: {}\n", "platforms.telegram.token_env: is required"),
        (
            "platforms:\n  matrix: {homeserver: 'http://h', user_id: 'palm'}\n",
            "platforms.matrix.user_id: expected a Matrix user id",
        ),
        ("targets:\n  - {id: 'x:1', tags: [a]}\n", "targets[0].id: expected telegram:"),
        ("targets:\n  - {id: 'telegram:1', tags: ['a b']}\n", "targets[0].tags: tag 'a b'"),
        ("- 1\n- 2\n", "the top level must be a mapping"),
        ("a: [\n", "line 2"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.message
    assert expected in info.value.message


def test_every_problem_is_named_at_its_key_in_one_run(tmp_path: Path) -> None:
    text = "redis: {urll: redis://x}\nlocale: fr\noutbox: {workers: -3}\n"
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.first == f"{path}: redis.urll: unknown key"
    assert err.key == "redis.urll"
    assert err.more == (
        "locale: Input should be 'zh' or 'en'",
        "outbox.workers: Input should be greater than or equal to 1",
    )
    assert err.message.splitlines()[1:] == [f"  {m}" for m in err.more]
    many = "".join(f"k{i}: 1\n" for i in range(30))
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, many))
    assert len(info.value.more) == 20  # 19 more listed, then how many were left out
    assert info.value.more[-1] == "… and 10 more"


def test_cli_prints_each_problem_on_its_own_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _write(tmp_path, "redis: {urll: redis://x}\noutbox: {workers: -3}\n")
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "-c", str(path), "run"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"palm: {path}: redis.urll: unknown key",
        "  outbox.workers: Input should be greater than or equal to 1",
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_secret_from_env_is_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALM_TEST_TOKEN", "123456:SECRET-token-value-abcdefghijkl")
    cfg = load_config(_write(tmp_path, "platforms:\n  telegram: {token_env: PALM_TEST_TOKEN}\n"))
    tg = cfg.platforms.telegram
    assert tg is not None
    assert tg.token is not None
    assert tg.token.get_secret_value() == "123456:SECRET-token-value-abcdefghijkl"
    for text in (repr(cfg), str(cfg), repr(tg), cfg.model_dump_json()):
        assert "SECRET-token" not in text


def test_path_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "env.yaml"
    env_file.write_text("locale: en\n")
    local = tmp_path / "palm.yaml"
    local.write_text("locale: zh\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("locale: en\nhttp: {listen: '127.0.0.1:9999'}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PALM_CONFIG", raising=False)
    assert load_config(None).locale == "zh"  # ./palm.yaml
    monkeypatch.setenv("PALM_CONFIG", str(env_file))
    assert load_config(None).locale == "en"  # $PALM_CONFIG beats ./palm.yaml
    assert load_config(explicit).http.port == 9999  # -c beats both


def test_relative_data_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    cfg = load_config(_write(sub, "data_dir: ./state\n"))
    assert cfg.data_dir == sub / "state"


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/palm.example.yaml documents every key; it must load as it is."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:x")
    monkeypatch.setenv("MATRIX_TOKEN", "syt_x")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s")
    example = Path(__file__).parents[2] / "config" / "palm.example.yaml"
    cfg = load_config(example)
    assert cfg.platforms.telegram is not None
    assert cfg.platforms.matrix is not None
    assert cfg.targets
