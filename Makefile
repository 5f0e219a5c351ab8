# The two commands a newcomer needs; both set up first (idempotent, seconds on a ready machine).
SHELL := /bin/bash
.PHONY: setup demo test

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh $(ARGS)

test: setup
	@bash scripts/test.sh $(ARGS)
