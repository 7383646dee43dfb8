"""Replay: re-run recorded inputs through the current core and compare byte for byte."""

from replay.replayer import Divergence, ReplayResult, replay_journal

__all__ = ["Divergence", "ReplayResult", "replay_journal"]
