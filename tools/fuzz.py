"""Fuzz targets for the bar-file parser and the config loader, and a coverage-guided runner (atheris).

    python -m tools.fuzz bars   [--seconds 300] [--corpus DIR]   # needs: pip install '.[fuzz]'
    python -m tools.fuzz config [--seconds 300] [--corpus DIR]

Each target is a property of the engine's edge, checked on any input:

* ``check_bar_file(data, suffix)``: ``read_bar_file`` either refuses the file with one ``FeedError`` line in
  the engine's words (never the parser's own suggestions, never another exception), or returns a table in
  which every row is rejected with a known reason or is a bar a journal can hold: a timestamp in the
  accepted range, positive prices with low <= open, close <= high, a volume >= 0 and a valid symbol.
* ``check_config(text)``: ``load_sources`` either refuses the file with one ``ConfigError`` line that
  shows no secret given in it, or returns a configuration whose snapshot resolves to itself, hashes
  stably, encodes canonically and holds no secret in the clear.

``tests/test_fuzz_targets.py`` runs both under hypothesis in ``make test``; this module runs them under
atheris (libFuzzer's coverage-guided mutation, seeded with the files of ``--corpus`` or a built-in seed)
for as long as asked, and stops at the first input that breaks a property (it is written to
``fuzz-artifacts/crash-<sha1>``). Run it from the repository root.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from engine.config import ConfigError, config_hash, load_sources, resolve
from engine.feeds.scan import Limits
from engine.feeds.symbols import symbol_problem
from engine.feeds.table import FeedError, read_bar_file
from engine.redact import env_reference, secret_key
from journal_schema.codec import canonical_json
from journal_schema.reasons import BAR_REJECT_REASONS
from journal_schema.units import EDGE_TS_MAX, EDGE_TS_MIN

SUFFIXES = (".csv", ".csv.gz", ".parquet")
FUZZ_LIMITS = Limits(max_line_bytes=4096, max_file_bytes=1 << 20)
PARSER_WORDS = ("You might want to try", "Consider setting", "infer_schema_length", "ignore_errors", "Original error")
SEED_BARS = b"timestamp,symbol,open,high,low,close,volume\n2024-01-02T15:00:00Z,AAPL,100,101,99,100.5,1000\n"
SEED_CONFIG = '[run]\nseed = 3\nuniverse = ["AAPL"]\n[strategy]\nfast = 2\nslow = 4\n[paper]\nfee_bps = 0.5\n'
ENV = {"VENDOR_TOKEN": "tok-fuzz"}
ARTIFACTS = Path("fuzz-artifacts")  # where an input that breaks a property is written (crash-<sha1>)


class PropertyBroken(AssertionError):
    """A fuzz input broke a property of the edge."""


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise PropertyBroken(what)


def check_bar_file(data: bytes, suffix: str = ".csv", directory: Path | None = None) -> None:
    """The bar-file property for one input (see the module docstring)."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / f"bars{suffix}"
        path.write_bytes(data)
        try:
            table = read_bar_file(path, FUZZ_LIMITS)
        except FeedError as exc:
            message = str(exc)
            _require(bool(message) and "\n" not in message and message.strip() == message, f"not one line: {message!r}")
            _require(not any(w in message for w in PARSER_WORDS), f"the parser's words: {message!r}")
            return
    frame = table.frame
    reasons = set(frame["reason"].drop_nulls().to_list())
    _require(reasons <= set(BAR_REJECT_REASONS), f"unknown reasons {reasons - set(BAR_REJECT_REASONS)}")
    for row in frame.filter(frame["reason"].is_null()).iter_rows(named=True):
        _require(EDGE_TS_MIN <= row["ts"] <= EDGE_TS_MAX, f"accepted ts {row['ts']} out of range")
        o, h, lo, c, v = (row[k] for k in ("open", "high", "low", "close", "volume"))
        _require(0 < lo <= min(o, c) and max(o, c) <= h and v >= 0, f"accepted bar breaks its ranges: {row}")
        _require(symbol_problem(row["symbol"]) is None, f"accepted symbol {row['symbol']!r}")


def check_config(text: str, directory: Path | None = None) -> None:
    """The config-loader property for one input (see the module docstring)."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_sources(path, env=ENV)
        except ConfigError as exc:
            message = str(exc)
            _require("\n" not in message and bool(message), f"not one line: {message!r}")
            for secret in _plain_secrets(text):
                _require(secret not in message, f"the secret {secret!r} shown in {message!r}")
            return
    snapshot = loaded.snapshot
    again = resolve(snapshot)[1]
    _require(again == snapshot, "the snapshot does not resolve to itself")
    _require(config_hash(again) == config_hash(snapshot), "the config hash is not stable")
    canonical_json(snapshot)
    for key, value in _leaves(snapshot):
        if secret_key(key):
            _require(env_reference(value) is not None, f"{'.'.join(key)} holds a secret in the clear")


def _plain_secrets(text: str) -> list[str]:
    """Values written in ``text`` under secret-looking keys (a rough scan of ``key = "value"`` lines), those
    that look like secrets (8 characters or more with a digit: a word like "limit" may be in any message) and
    are not also the value of a setting that is no secret (which a message may show)."""
    secrets, others = set(), set()
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        value = value.strip().strip("\"'")
        if not sep:
            continue
        if not secret_key((key.strip(),)):
            others.add(value)
        elif len(value) >= 8 and any(c.isdigit() for c in value) and env_reference(value) is None:
            secrets.add(value)
    return sorted(secrets - others)


def _leaves(tree: object, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in _leaves(v, (*prefix, str(k)))]
    return [(prefix, tree)]


def _fuzz(target: str, seconds: int, corpus: Path | None) -> None:
    import atheris  # type: ignore[import-untyped]  # the fuzz extra: pip install '.[fuzz]'

    def one(data: bytes) -> None:
        if target == "bars":
            fdp = atheris.FuzzedDataProvider(data)
            suffix = SUFFIXES[fdp.ConsumeIntInRange(0, len(SUFFIXES) - 1)]
            check_bar_file(fdp.ConsumeBytes(fdp.remaining_bytes()), suffix)
        else:
            check_config(data.decode("utf-8", errors="replace"))

    seeds = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    (seeds / "seed").write_bytes(b"\x00" + SEED_BARS if target == "bars" else SEED_CONFIG.encode())
    ARTIFACTS.mkdir(exist_ok=True)
    args = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        "-timeout=30",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={ARTIFACTS}/",
        str(seeds),
    ]
    if corpus is not None:
        args.append(str(corpus))
    atheris.instrument_all()  # coverage of the engine's code (already imported) guides the mutations
    atheris.Setup(args, one)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=("bars", "config"))
    parser.add_argument("--seconds", type=int, default=300, help="how long to fuzz (default: %(default)s)")
    parser.add_argument("--corpus", type=Path, help="a directory of inputs to start from (and to add to)")
    args = parser.parse_args(argv)
    _fuzz(args.target, args.seconds, args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
