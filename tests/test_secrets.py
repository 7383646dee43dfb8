"""Secrets never reach the journal or the logs: a paper run against the venue with Alpaca keys set
in its environment leaves no trace of them in the journal's bytes (main file and WAL) or in what the
engine printed; and an Alpaca run without keys refuses to start (issue 6, part 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.drill import ROOT, Venue, bar_file, engine_config

KEY, SECRET = "PKSECRETSCANKEY7Q2W", "sEcReTsCaNvAlUe9X8c7V6b5N4m3"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "ENGINE"))}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


@pytest.mark.slow
def test_a_run_with_keys_set_leaves_them_nowhere(tmp_path: Path) -> None:
    bars = bar_file(tmp_path / "bars.csv", days=40)
    venue = Venue(tmp_path, bars, speed=864_000, faults={}, seed=1)  # 10 sessions a second
    try:
        cfg = engine_config(tmp_path / "engine.toml", venue.port)
        journal = tmp_path / "j.db"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "engine.cli",
                "run",
                "--broker",
                "venue",
                "--config",
                str(cfg),
                "--journal",
                str(journal),
                "--cycles",
                "120",
            ],
            env=_env(APCA_API_KEY_ID=KEY, APCA_API_SECRET_KEY=SECRET),
            capture_output=True,
            timeout=120,
            check=False,
        )
    finally:
        venue.proc.terminate()
        venue.proc.wait(10)
    assert done.returncode == 0, done.stderr.decode()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*") if p.is_file())
    assert b"OrderSubmitRequested" in stored, "the run must have traded for the scan to mean anything"
    for secret in (KEY, SECRET):
        for where, blob in (("journal", stored), ("stdout", done.stdout), ("stderr", done.stderr)):
            assert secret.encode() not in blob, f"{secret[:4]}... found in the {where}"
            assert secret[4:].encode() not in blob, f"part of {secret[:4]}... found in the {where}"


def test_an_alpaca_run_without_keys_refuses_to_start(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\nuniverse = ["AAPL"]\n[broker]\nkind = "alpaca"\n')
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "--config", str(cfg), "--journal", str(tmp_path / "j.db")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "needs Alpaca API keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY" in done.stderr
    assert not (tmp_path / "j.db").exists()


def test_the_journal_cipher_key_is_neither_stored_nor_printed(tmp_path: Path) -> None:
    import base64

    from engine.journal.cipher import new_key

    key = new_key()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[risk.policy]\nmin_liquidity_score = "0"\n')
    journal = tmp_path / "j.db"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "--config", str(cfg), "--journal", str(journal)],
        env=_env(ENGINE_CIPHER_KEY=key, ENGINE__RUN__ENCRYPT_JOURNAL="true"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"encrypt_journal" in done.stderr  # the start-up summary names the setting, not the key
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*") if p.is_file())
    assert b"OrderSubmitRequested" in stored, "the run must have traded for the scan to mean anything"
    for secret in (key.encode(), base64.b64decode(key)):
        for where, blob in (("journal", stored), ("stdout", done.stdout), ("stderr", done.stderr)):
            assert secret not in blob, f"the cipher key found in the {where}"
            assert secret[4:20] not in blob, f"part of the cipher key found in the {where}"


# ---------------------------------------------------------------- secrets in the configuration and in URLs
PASSWORD = "hunter2-Zq8Lw"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("how", ["file", "env", "flag"])
def test_a_password_in_the_venue_url_is_refused_without_showing_it(tmp_path: Path, how: str) -> None:
    """Audit finding 5: it appeared in the summaries, the logs, the journal and the report."""
    url = f"http://trader:{PASSWORD}@127.0.0.1:8765"
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[run]\nuniverse = ["AAPL"]\n[broker]\nkind = "venue"\n' + (f'venue_url = "{url}"\n' if how == "file" else "")
    )
    args = ["run", "--config", str(cfg), "--journal", str(tmp_path / "j.db"), "--cycles", "1"]
    env = {"ENGINE__BROKER__VENUE_URL": url} if how == "env" else {}
    done = _cli(*args, *(["--venue-url", url] if how == "flag" else []), **env)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "broker.venue_url holds a URL with a password" in done.stderr and "trader:***@" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert not (tmp_path / "j.db").exists()


@pytest.mark.parametrize("given", ["file", "env"])
def test_a_secret_looking_strategy_parameter_must_name_an_environment_variable(tmp_path: Path, given: str) -> None:
    """Audit finding 5: such a parameter was stored in clear in the journal."""
    cfg = tmp_path / "c.toml"
    spec = "tests.test_config_env:SECRETIVE"
    cfg.write_text(f'[strategy]\nname = "{spec}"\n' + (f'api_token = "{PASSWORD}"\n' if given == "file" else ""))
    env = {"ENGINE__STRATEGY__API_TOKEN": PASSWORD} if given == "env" else {}
    done = _cli("run", "--config", str(cfg), "--journal", str(tmp_path / "j.db"), **env)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "strategy.api_token looks like a secret" in done.stderr and 'api_token = "env:API_TOKEN"' in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert not (tmp_path / "j.db").exists()


def test_a_secret_given_by_reference_is_journaled_as_the_reference(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[strategy]\nname = "tests.test_config_env:SECRETIVE"\napi_token = "env:VENDOR_TOKEN"\n')
    unset = _cli("run", "--config", str(cfg), "--journal", str(tmp_path / "x.db"))
    assert unset.returncode == 2 and "strategy.api_token names env VENDOR_TOKEN, which is not set" in unset.stderr
    done = _cli("run", "--config", str(cfg), "--journal", str(tmp_path / "j.db"), VENDOR_TOKEN=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "strategy.api_token = env:VENDOR_TOKEN" in done.stderr  # the summary shows the reference
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*") if p.is_file())
    assert b'"api_token":"env:VENDOR_TOKEN"' in stored and PASSWORD.encode() not in stored
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.postgres
def test_a_journal_address_with_a_password_leaves_it_nowhere(tmp_path: Path) -> None:
    """The password of a postgresql:// journal is in no output, log line, record or report."""
    from tests.stores import PG_UNREACHABLE, fresh_table, pg_url

    if PG_UNREACHABLE:
        pytest.skip(PG_UNREACHABLE)
    bars = bar_file(tmp_path / "bars.csv", days=30)
    with fresh_table() as table:
        url = pg_url(table, password=PASSWORD)  # trust auth: any password is accepted
        outputs = [
            _cli("run", "--bars", str(bars), "--journal", url),
            _cli("verify", url),
            _cli("replay", "--from", url),
            _cli("query", "orders", "--journal", url),
            _cli("report", "--journal", url, "--out", str(tmp_path / "r.html")),
            _cli("journal", "copy", url, str(tmp_path / "copy.db")),
            _cli("kill", "--journal", url, "--reason", "drill", "--wait", "0"),
            _cli("verify", url.replace(table, table + "_missing")),
            _cli("run", "--bars", str(bars), "--journal", url),  # refused: the journal already holds a run
        ]
        import psycopg

        from tests.stores import DB, HOST, PORT

        with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB) as conn:
            rows = conn.execute(f"SELECT state FROM {table}").fetchall()
        stored = b"".join(bytes(r[0]) for r in rows)
    assert [o.returncode for o in outputs] == [0, 0, 0, 0, 0, 0, 0, 2, 2], [o.stderr for o in outputs]
    assert any("postgres:***@" in o.stdout + o.stderr for o in outputs)  # the address is shown, redacted
    for done in outputs:
        assert PASSWORD not in done.stdout + done.stderr
    assert b"RunStarted" in stored and PASSWORD.encode() not in stored
    assert PASSWORD.encode() not in (tmp_path / "r.html").read_bytes()
    assert PASSWORD.encode() not in (tmp_path / "copy.db").read_bytes()


def test_the_writer_lock_records_the_command_without_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.journal.lock import JournalLockedError, WriterLock

    monkeypatch.setattr(sys, "argv", ["engine", "journal", "copy", f"postgresql://u:{PASSWORD}@db/x", "cp.db"])
    with WriterLock(tmp_path / "cp.db") as lock:
        assert PASSWORD.encode() not in lock.path.read_bytes() and b"u:***@db" in lock.path.read_bytes()
        with pytest.raises(JournalLockedError) as refused:
            WriterLock(tmp_path / "cp.db").acquire()
        assert PASSWORD not in str(refused.value)
