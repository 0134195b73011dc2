"""Which world a run touches: LIVE, DRY-RUN or LAB, the lab's active faults, and the targets' names."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mode:
    dry_run: bool = False
    offline: bool = False
    lab: bool = False
    targets: tuple[str, ...] = field(default_factory=tuple)
    faults: tuple[str, ...] = field(default_factory=tuple)  # the lab's --fault specs, as given

    @property
    def kind(self) -> str:
        """live | dry-run | lab: dry-run wins, since it is what keeps a live target safe."""
        if self.dry_run or self.offline:
            return "dry-run"
        return "lab" if self.lab else "live"

    @property
    def label(self) -> str:
        """LIVE, LAB, DRY-RUN (offline) · LAB, then the lab's faults: a rehearsal under injected
        faults must not be mistaken for one of the healthy lab."""
        if self.kind == "dry-run":
            extra = " (offline)" if self.offline else ""
            label = f"DRY-RUN{extra}" + (" · LAB" if self.lab else "")
        else:
            label = self.kind.upper()
        if self.lab and self.faults:
            label += " · faults: " + ", ".join(self.faults)
        return label
