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
            [sys.executable, "-m", "engine.cli", "run", "--broker", "venue", "--config", str(cfg), "--journal",
             str(journal), "--cycles", "120"],
            env=_env(APCA_API_KEY_ID=KEY, APCA_API_SECRET_KEY=SECRET), capture_output=True, timeout=120, check=False,
        )  # fmt: skip
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
    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", "--config", str(cfg), "--journal",
                           str(tmp_path / "j.db")], env=_env(), capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
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
        env=_env(ENGINE_CIPHER_KEY=key, ENGINE__RUN__ENCRYPT_JOURNAL="true"), capture_output=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert b"encrypt_journal" in done.stderr  # the start-up summary names the setting, not the key
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*") if p.is_file())
    assert b"OrderSubmitRequested" in stored, "the run must have traded for the scan to mean anything"
    for secret in (key.encode(), base64.b64decode(key)):
        for where, blob in (("journal", stored), ("stdout", done.stdout), ("stderr", done.stderr)):
            assert secret not in blob, f"the cipher key found in the {where}"
            assert secret[4:20] not in blob, f"part of the cipher key found in the {where}"
