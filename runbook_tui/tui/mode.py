"""Which world a run touches: LIVE, DRY-RUN or LAB, and the targets' names."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mode:
    dry_run: bool = False
    offline: bool = False
    lab: bool = False
    targets: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        """live | dry-run | lab: dry-run wins, since it is what keeps a live target safe."""
        if self.dry_run or self.offline:
            return "dry-run"
        return "lab" if self.lab else "live"

    @property
    def label(self) -> str:
        if self.kind == "dry-run":
            extra = " (offline)" if self.offline else ""
            return f"DRY-RUN{extra}" + (" · LAB" if self.lab else "")
        return self.kind.upper()
