"""Performance benchmarks; results with their commands and machine are recorded in docs/benchmarks.md."""
