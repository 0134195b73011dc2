"""The Textual face of runbook-tui. Talks to the engine only through the workspace, engine
events, the gate interface and the journal."""
