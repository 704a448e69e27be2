"""Static analysis: per-file summaries (index), then whole-project flow analysis (facts)."""
