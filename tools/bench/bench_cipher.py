"""What encryption at rest costs: the same journal written and read plaintext and encrypted, same run.

    python -m tools.bench.bench_cipher [--events 200000] [--batch 4096] [--repeat 5]

* **append**: a fresh SQLite ``JournalWriter`` (``encrypt=True`` with a fresh key, or plaintext),
  one ``append((event,))`` per BarClosed of ``tools.bench.bench_append.make_events`` and a flush every
  ``--batch`` staged records, as ``engine.shell.Engine`` drives it; timed from the first append to the
  end of the final flush (opening the journal excluded).
* **read**: ``JournalReader.records()`` over the whole journal (the pages every projection, verify and
  replay read), timed from the first page to the last record; decryption happens here.

The variants are interleaved within each repetition (plaintext, then encrypted) so load changes
hit both. Reported: medians, and the ratios encrypted/plaintext of the medians (1.0 = free).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.journal.cipher import new_key
from engine.journal.store import JournalReader, JournalWriter
from journal_schema.events import BarClosed
from tools.bench._common import (
    STAT_HEADERS,
    WORK,
    ensure_dirs,
    events_main,
    fmt,
    rate,
    remove_journal,
    stat_row,
    summary,
    table,
    time_appends,
)
from tools.bench.bench_append import make_events


def time_append(events: list[BarClosed], path: Path, batch: int, key: str | None) -> float:
    remove_journal(path)
    w = JournalWriter(path, encrypt=key is not None, key=key)
    try:
        return time_appends(w, events, batch)[0]
    finally:
        w.close()


def time_read(path: Path, key: str | None) -> float:
    with JournalReader(path, key=key) as reader:
        t0 = time.perf_counter()
        n = sum(1 for _ in reader.records())
        t1 = time.perf_counter()
    assert n > 0
    return t1 - t0


def run(n_events: int = 200_000, batch: int = 4096, repeat: int = 5) -> dict[str, Any]:
    ensure_dirs()
    events = make_events(n_events)
    key = new_key()
    plain, enc = WORK / "cipher_plain.db", WORK / "cipher_enc.db"
    times: dict[str, list[float]] = {"append_plain": [], "append_enc": [], "read_plain": [], "read_enc": []}
    for _ in range(repeat):
        times["append_plain"].append(time_append(events, plain, batch, None))
        times["append_enc"].append(time_append(events, enc, batch, key))
        times["read_plain"].append(time_read(plain, None))
        times["read_enc"].append(time_read(enc, key))
    sizes = {"plain": plain.stat().st_size, "encrypted": enc.stat().st_size}
    for p in (plain, enc):
        remove_journal(p)
    s = {name: summary(v) for name, v in times.items()}
    return {
        "params": {
            "events": n_events,
            "batch": batch,
            "repeat": repeat,
            "event_type": "BarClosed",
            "cipher": "AES-256-GCM (eventsourcing.cryptography.AESCipher)",
        },
        "seconds": s,
        "events_per_s": {name: rate(n_events, v) for name, v in s.items()},
        "ratio_append_enc_over_plain": s["append_enc"]["median"] / s["append_plain"]["median"],
        "ratio_read_enc_over_plain": s["read_enc"]["median"] / s["read_plain"]["median"],
        "extra_us_per_record_append": 1e6 * (s["append_enc"]["median"] - s["append_plain"]["median"]) / n_events,
        "extra_us_per_record_read": 1e6 * (s["read_enc"]["median"] - s["read_plain"]["median"]) / n_events,
        "file_bytes": sizes,
    }


def report(res: dict[str, Any]) -> str:
    p, r = res["params"], res["events_per_s"]
    rows = [
        stat_row("append, plaintext", r["append_plain"], "ev/s"),
        stat_row(
            "append, encrypted",
            r["append_enc"],
            "ev/s",
            f"time x{res['ratio_append_enc_over_plain']:.2f}, +{res['extra_us_per_record_append']:.2f} us/record",
        ),
        stat_row("read, plaintext", r["read_plain"], "rec/s"),
        stat_row(
            "read, encrypted",
            r["read_enc"],
            "rec/s",
            f"time x{res['ratio_read_enc_over_plain']:.2f}, +{res['extra_us_per_record_read']:.2f} us/record",
        ),
    ]
    size = res["file_bytes"]
    title = (
        f"bench_cipher: {fmt(p['events'])} BarClosed, flush every {p['batch']}, SQLite; file "
        f"{size['plain'] / 1e6:.1f} MB plaintext, {size['encrypted'] / 1e6:.1f} MB encrypted"
    )
    return table(title, STAT_HEADERS, rows)


def main(argv: list[str] | None = None) -> int:
    return events_main("bench_cipher", __doc__ or "", run, report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
