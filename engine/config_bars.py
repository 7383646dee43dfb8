"""The ``[bars]`` table of the run config: the bounds of a bar file read by ``engine run --bars`` and
``engine venue --bars`` (``engine.feeds.scan``). Left out of the config snapshot while it holds the
defaults, so a config without it keeps its hash."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from engine.feeds.scan import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, MAX_LINE_LIMIT, Limits


class BarsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_line_bytes: StrictInt = Field(
        DEFAULT_MAX_LINE_BYTES,
        ge=64,
        le=MAX_LINE_LIMIT,
        description="longest line of a bar file (newline included); a longer one refuses the file, naming it",
    )
    max_file_bytes: StrictInt = Field(
        DEFAULT_MAX_FILE_BYTES,
        ge=1024,
        le=1 << 40,
        description="largest bar file, as text (a .csv.gz decompressed); parsing takes about 8x this in memory",
    )

    @property
    def is_default(self) -> bool:
        return self == BarsSection()

    def limits(self) -> Limits:
        return Limits(self.max_line_bytes, self.max_file_bytes)
