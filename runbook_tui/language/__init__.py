"""The procedure language: YAML with source positions -> validated models, the checks a file must
pass, sandboxed templating, and what is derived from a procedure (its JSON Schema, its graph)."""
