"""The typed run configuration: TOML in, validated model out, canonical snapshot + sha256.

Settings come from a TOML file, ``ENGINE__<TABLE>__<KEY>`` environment variables
(engine/config_env.py) and command-line flags; the same setting given twice with different
values is an error naming both sources. Every setting has a default (documented in
docs/configuration.md). Unknown keys are errors. The snapshot is the fully resolved config
(defaults filled in), encoded canonically, so an omitted key and the same value written
explicitly hash the same.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from engine.config_bars import BarsSection
from engine.config_breakers import BreakersSection
from engine.config_broker import BrokerSection, OmsSection, OrdersSection, PaperSection
from engine.config_costs import CostsSection
from engine.config_env import (
    COMMAND_LINE,
    EnvError,
    Key,
    Source,
    env_settings,
    file_source,
    leaves,
    same_value,
    shown,
    summary_lines,
)
from engine.config_fields import Section, plain
from engine.config_risk import RiskSection
from engine.core.strategy import StrategyError
from engine.feeds.symbols import symbol_problem
from engine.redact import config_problem, strip_credentials, unset_references
from engine.strategies import resolve_strategy
from journal_schema.codec import canonical_json


def _universe(v: list[str]) -> list[str]:
    """Sorted and unique, so the order a universe is written in does not change the hash."""
    symbols = [s.strip() for s in v]
    for problem in filter(None, map(symbol_problem, symbols)):
        raise ValueError(problem)
    return sorted(set(symbols))


Mode = Literal["backtest", "paper", "live"]
DEFAULT_MODE: dict[str, Mode] = {"sim": "backtest", "venue": "paper", "alpaca": "paper"}


class RunSection(Section):
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1, description="seed of every random draw (paper fills)")
    mode: Mode = Field(
        "backtest",
        description="backtest (broker sim), paper (venue or Alpaca paper) or live (Alpaca live); "
        "when omitted it follows broker.kind: sim -> backtest, venue / alpaca -> paper",
    )
    calendar: str = Field("XNYS", description="exchange-calendars name, e.g. XNYS, or 24/7")
    universe: list[str] = Field(default_factory=list, description="symbols to trade; empty = symbols in the data")
    canary_symbols: list[str] = Field(
        default_factory=list,
        description="canary mode: only these symbols may add risk (exits always pass); "
        "every decision says CANARY_MODE; empty = off",
    )
    encrypt_journal: StrictBool = Field(
        False,
        description="make a new journal with its records encrypted at rest (AES-GCM, the key in "
        "env ENGINE_CIPHER_KEY, required); an encrypted journal stays encrypted",
    )

    _u = field_validator("universe", "canary_symbols")(_universe)

    @model_validator(mode="after")
    def _canary_in_universe(self) -> RunSection:
        outside = [s for s in self.canary_symbols if self.universe and s not in self.universe]
        if outside:
            raise ValueError(f"canary_symbols {', '.join(outside)} not in run.universe")
        return self

    @model_serializer(mode="wrap")
    def _omit_new_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Canary mode and journal encryption off are not in the snapshot: a config without them hashes
        as it did before they existed."""
        out: dict[str, Any] = handler(self)
        if not self.canary_symbols:
            out.pop("canary_symbols", None)
        if not self.encrypt_journal:
            out.pop("encrypt_journal", None)
        return out


class StrategySection(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field("sma_cross", description="built-in name or package.module:SPEC")


class EngineConfig(Section):
    run: RunSection = Field(default_factory=RunSection)
    strategy: StrategySection = Field(default_factory=StrategySection)
    orders: OrdersSection = Field(default_factory=OrdersSection)
    paper: PaperSection = Field(default_factory=PaperSection)
    broker: BrokerSection = Field(default_factory=BrokerSection)
    oms: OmsSection = Field(default_factory=OmsSection)
    risk: RiskSection = Field(default_factory=lambda: RiskSection.model_validate({}))
    costs: CostsSection = Field(default_factory=CostsSection)
    breakers: BreakersSection = Field(default_factory=BreakersSection)
    bars: BarsSection = Field(default_factory=BarsSection)

    @model_serializer(mode="wrap")
    def _omit_default_tables(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``[breakers]`` and ``[bars]`` at their defaults are not in the snapshot: a config without them
        hashes as it did before the tables existed."""
        out: dict[str, Any] = handler(self)
        for name in ("breakers", "bars"):
            if getattr(self, name).is_default:
                out.pop(name, None)
        return out

    @model_validator(mode="before")
    @classmethod
    def _mode_follows_broker(cls, raw: Any) -> Any:
        """An omitted run.mode follows broker.kind (written into the snapshot, so it is explicit there)."""
        if not isinstance(raw, dict):
            return raw
        run, broker = raw.get("run", {}), raw.get("broker", {})
        if isinstance(run, dict) and isinstance(broker, dict) and "mode" not in run:
            kind = broker.get("kind", "sim")
            if isinstance(kind, str) and kind in DEFAULT_MODE:  # anything else is refused by the field's validation
                return {**raw, "run": {**run, "mode": DEFAULT_MODE[kind]}}
        return raw

    @model_validator(mode="after")
    def _mode_fits_broker(self) -> EngineConfig:
        mode, kind = self.run.mode, self.broker.kind
        if (mode == "backtest") != (kind == "sim"):
            raise ValueError(
                f"run.mode {mode!r} does not go with broker.kind {kind!r}: backtest runs use the "
                "sim broker; paper runs the venue or alpaca; live runs alpaca"
            )
        if mode == "live" and kind != "alpaca":
            raise ValueError(f"run.mode 'live' needs broker.kind 'alpaca', not {kind!r}")
        return self


Origins = dict[Key, list[Source]]


class ConfigError(ValueError):
    """The configuration cannot be read or is invalid; the message is one line."""


def one_line(exc: ValidationError, prefix: str = "", origins: Origins | None = None) -> str:
    """A pydantic validation error as one line: ``loc: message; loc: message``, each followed by
    the environment variable (or ``command line``) that gave the setting, when ``origins`` says;
    a file's settings are named by their key alone."""
    parts = []
    for err in exc.errors():
        loc = tuple([prefix] * bool(prefix) + [str(p) for p in err["loc"]])
        text = f"{'.'.join(loc)}: {err['msg']}" if loc else err["msg"]
        parts.append(text + given_by(loc, origins))
    return strip_credentials("; ".join(parts))  # a validator may quote the value it refused


def given_by(loc: Key, origins: Origins | None) -> str:
    """`` (env ENGINE__RUN__SEED)``: the non-file sources of the settings at or under ``loc``."""
    if not loc or not origins:
        return ""
    labels = sorted(
        {
            s.label
            for key, sources in origins.items()
            if key[: len(loc)] == loc or loc[: len(key)] == key
            for s in sources
            if s.kind != "file"
        }
    )
    return f" ({'; '.join(labels)})" if labels else ""


def with_overrides(
    raw: dict[str, Any],
    overrides: Mapping[Key, Any],
    source: str,
    by: Source | Mapping[Key, Source] = COMMAND_LINE,
    origins: Origins | None = None,
) -> dict[str, Any]:
    """``raw`` (read from ``source``) with ``overrides`` (``(table, ..., key) -> value``, given ``by``
    one source or one per key) filled in. The one merge of every source (file, environment, command
    line): a setting given by two of them with different values is an error naming both, never a
    silent preference; the same value twice is fine. ``origins`` (key -> its sources, file first) is
    consulted for the earlier source and updated."""
    merged = copy.deepcopy(raw)
    seen: Origins = origins if origins is not None else {}
    for key, value in overrides.items():
        given = by if isinstance(by, Source) else by[key]
        node = merged
        for depth, part in enumerate(key[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(key[: depth + 1])}: expected a table ({given.label})")
            node = child
        last = key[-1]
        if last in node and not same_value(node[last], value):
            first = seen.get(key, [file_source(source)])[0]
            raise ConfigError(
                f"{'.'.join(key)} is {shown(key, node[last])} {first.phrase} but {shown(key, value)} {given.phrase}"
            )
        node.setdefault(last, value)
        seen.setdefault(key, []).append(given)
    return merged


def resolve(raw: dict[str, Any], origins: Origins | None = None) -> tuple[EngineConfig, dict[str, Any]]:
    """Validate a raw mapping. Returns the model and the canonical snapshot (a plain dict).
    ``origins`` only names the environment variables and flags of settings in error messages.
    A secret in the clear (``engine.redact.config_problem``) is refused once the keys are known to be
    settings (an unknown key is refused as such first; no message shows a value)."""
    try:
        cfg = EngineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(one_line(exc, origins=origins)) from None
    for key, value in sorted(leaves(raw).items()):
        problem = config_problem(key, value)
        if problem is not None:
            raise ConfigError(problem + given_by(key, origins))
    snapshot = cfg.model_dump(mode="json")
    strategy_raw = dict(raw.get("strategy", {}))
    name = strategy_raw.pop("name", cfg.strategy.name)
    try:
        spec = resolve_strategy(name)
        params = spec.validate(strategy_raw)
    except StrategyError as exc:
        raise ConfigError(f"strategy: {exc}{given_by(('strategy', 'name'), origins)}") from None
    except ValidationError as exc:
        raise ConfigError(one_line(exc, prefix="strategy", origins=origins)) from None
    as_json, as_python = params.model_dump(mode="json"), params.model_dump()
    snapshot["strategy"] = {
        "name": name,
        **{k: plain(v) if isinstance(v, Decimal) else as_json[k] for k, v in as_python.items()},
    }
    return cfg, snapshot


@dataclass(frozen=True)
class Loaded:
    """A validated config, its snapshot, and where each setting given came from."""

    cfg: EngineConfig
    snapshot: dict[str, Any]
    origins: Origins

    def summary(self) -> str:
        """The redacted effective-config summary (``engine run`` prints it on stderr)."""
        omitted = {"breakers": BreakersSection().snapshot(), "bars": BarsSection().model_dump()}  # not in a snapshot
        defaults = {**resolve({})[1], **omitted}
        lines = summary_lines(self.snapshot, defaults, config_hash(self.snapshot), self.origins)
        return "\n".join(lines)


def load_sources(
    path: str | Path | None, overrides: Mapping[Key, Any] | None = None, env: Mapping[str, str] | None = None
) -> Loaded:
    """The one loader: a TOML file (or the defaults when ``path`` is None), then the ``ENGINE__``
    variables of ``env`` (the shell passes ``os.environ``; None: no environment), then the
    command-line ``overrides``. Conflicting sources are errors (``with_overrides``)."""
    raw = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "the defaults"
    origins: Origins = {key: [file_source(source)] for key in leaves(raw)}
    try:
        from_env, variables = env_settings(env or {})
    except EnvError as exc:
        raise ConfigError(str(exc)) from None
    raw = with_overrides(raw, from_env, source, variables, origins)
    raw = with_overrides(raw, overrides or {}, source, COMMAND_LINE, origins)
    cfg, snapshot = resolve(raw, origins)
    for key, name in unset_references(leaves(raw), env) if env is not None else []:  # a typo, caught at start-up
        raise ConfigError(f"{'.'.join(key)} names env {name}, which is not set{given_by(key, origins)}")
    return Loaded(cfg, snapshot, origins)


def load(
    path: str | Path | None, overrides: Mapping[Key, Any] | None = None, env: Mapping[str, str] | None = None
) -> tuple[EngineConfig, dict[str, Any]]:
    """``load_sources`` without the origins: the model and the canonical snapshot."""
    loaded = load_sources(path, overrides, env)
    return loaded.cfg, loaded.snapshot


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {p} is not valid TOML: {exc}") from None
    return raw


def config_hash(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(snapshot)).hexdigest()
