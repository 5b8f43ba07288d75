"""Load benchmark of the bot against local fakes: ``python -m bench`` (see BENCHMARKS.md)."""
