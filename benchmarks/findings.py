"""What the measurements traced (written from the numbers in docs/performance.json; the
report prints them under its targets)."""

FINDINGS: list[str] = []
