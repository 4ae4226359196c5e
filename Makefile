# Shortcuts; the README's commands work without make.
PY := .venv/bin/python

.PHONY: test bench bench-smoke
test:
	$(PY) -m pytest

bench:            ## every benchmark at full size; results in bench/results/*.json
	$(PY) bench/run_all.py

bench-smoke:      ## every benchmark with a tiny N (what the test suite runs)
	$(PY) bench/run_all.py --smoke
