"""runbook-tui: mail-edge runbooks as guarded, gated procedures."""

__version__ = "0.1.0"
