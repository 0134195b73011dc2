"""The faces without a screen: the console and JSON reporters, the run journal, the Markdown
report made from it."""
