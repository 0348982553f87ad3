# m365.mailflow developer and CI entry points. `make help` lists the targets.
# Everything runs from the repo's own .venv; the collection is seen by Ansible through
# .build/collections/ansible_collections/m365/mailflow -> this checkout.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

REPO        := $(CURDIR)
PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        := $(REPO)/.venv
VPY         := $(VENV)/bin/python
STAMP       := $(VENV)/.requirements.sha256
REQ_FILES   := requirements.txt tests/requirements.txt
COLLECTIONS := $(REPO)/.build/collections
COLL_LINK   := $(COLLECTIONS)/ansible_collections/m365/mailflow
EE_CONTEXT  := $(REPO)/.build/ee
DIST        := $(REPO)/.build/dist

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

say = @printf '\n==> %s\n' "$(1)"

.PHONY: help venv venv-rebuild collection system-deps action-group changelog-lint ee build docs units \
	integration sanity lint demo bench test clean

help:
	@echo "make test          everything CI runs (system-deps venv collection + all checks, cheapest first)"
	@echo "make venv          create/refresh .venv from requirements.txt + tests/requirements.txt (stamp-guarded)"
	@echo "make venv-rebuild  delete and re-create .venv"
	@echo "make collection    .build/collections/ansible_collections/m365/mailflow -> this checkout"
	@echo "make system-deps   apt-get install postfix swaks dnsmasq-base when missing (root or sudo)"
	@echo "make units | integration | sanity | docs | lint | ee | build | action-group | changelog-lint"
	@echo "make demo          run playbooks/onboard_partner.yml against the sandbox (.sandbox/)"
	@echo "make bench         run the benchmarks under benchmarks/ (ratios, API calls per task)"

# --- environment ------------------------------------------------------------------------------------------------

system-deps:
	$(call say,system-deps: checking postfix swaks dnsmasq-base and python venv support)
	PYTHON="$(PYTHON)" hacking/system-deps.sh

# The stamp holds a hash of the requirement files and the interpreter version. When it differs, the existing venv
# is brought up to date with pip (others may be using it); a missing or broken venv is created from scratch.
venv:
	$(call say,venv: $(VENV) with $(PYTHON) from $(REQ_FILES))
	@want="$$( { cat $(REQ_FILES); "$(PYTHON)" -VV; } | sha256sum | cut -d' ' -f1 )"; \
	if [[ ! -x "$(VPY)" ]] || ! "$(VPY)" -c 'import sys' >/dev/null 2>&1; then \
		echo "venv: creating $(VENV)"; \
		rm -rf "$(VENV)"; \
		"$(PYTHON)" -m venv "$(VENV)"; \
		"$(VPY)" -m pip install --upgrade pip; \
	elif [[ -f "$(STAMP)" && "$$(cat "$(STAMP)")" == "$$want" ]]; then \
		echo "venv: up to date (requirements unchanged)"; exit 0; \
	else \
		echo "venv: requirement files changed since the last install; updating"; \
	fi; \
	"$(VPY)" -m pip install -r tests/requirements.txt; \
	"$(VPY)" -m pip check || echo "venv: WARNING: pip check reported conflicts (see above)"; \
	echo "$$want" > "$(STAMP)"; \
	echo "venv: ready (ansible-core $$("$(VPY)" -c "import ansible.release as r; print(r.__version__)"))"

venv-rebuild:
	$(call say,venv-rebuild: removing $(VENV))
	rm -rf "$(VENV)"
	$(MAKE) --no-print-directory venv

collection:
	$(call say,collection: $(COLL_LINK) -> $(REPO))
	mkdir -p "$(dir $(COLL_LINK))"
	@if [[ -e "$(COLL_LINK)" && ! -L "$(COLL_LINK)" ]]; then \
		echo "collection: $(COLL_LINK) exists and is not a symlink; remove it" >&2; exit 1; fi
	ln -sfn "$(REPO)" "$(COLL_LINK)"

# --- checks (cheapest first in `test`) ------------------------------------------------------------------------------

action-group:
	$(call say,action-group: meta/runtime.yml action_groups.exchange == plugins/modules/*)
	"$(VPY)" hacking/check-action-group.py

changelog-lint:
	$(call say,changelog-lint: antsibull-changelog lint)
	"$(VENV)/bin/antsibull-changelog" lint

ee:
	$(call say,ee: ansible-builder create -f meta/execution-environment.yml -c .build/ee)
	rm -rf "$(EE_CONTEXT)"
	"$(VENV)/bin/ansible-builder" create -f meta/execution-environment.yml -c "$(EE_CONTEXT)" -v 1
	test -s "$(EE_CONTEXT)/Containerfile" || test -s "$(EE_CONTEXT)/Dockerfile"

build:
	$(call say,build: ansible-galaxy collection build into .build/dist)
	mkdir -p "$(DIST)"
	"$(VENV)/bin/ansible-galaxy" collection build --force --output-path "$(DIST)" .

docs:
	$(call say,docs: ansible-doc renders every module)
	hacking/check-docs.sh

units:
	$(call say,units: pytest tests/unit)
	"$(VPY)" -m pytest tests/unit

lint:
	$(call say,lint: ansible-lint (roles/ playbooks/) and antsibull-changelog lint)
	"$(VENV)/bin/antsibull-changelog" lint
	@targets=(); for d in roles playbooks; do [[ -d $$d ]] && targets+=("$$d"); done; \
	if [[ $${#targets[@]} -gt 0 ]]; then \
		echo "lint: ansible-lint $${targets[*]}"; \
		PATH="$(VENV)/bin:$$PATH" "$(VENV)/bin/ansible-lint" --offline "$${targets[@]}"; \
	else echo "lint: no roles/ or playbooks/ yet"; fi

sanity:
	$(call say,sanity: ansible-test sanity (offline, --venv --python 3.11) on a copy in .build/ansible-test)
	hacking/ansible-test-offline.sh sanity

integration:
	$(call say,integration: pytest tests/integration (MAILFLOW_REQUIRE_SERVERS=$${MAILFLOW_REQUIRE_SERVERS:-unset}))
	"$(VPY)" -m pytest tests/integration

demo: venv collection
	$(call say,demo: ansible-playbook playbooks/onboard_partner.yml (sandbox state under .sandbox/))
	mkdir -p .sandbox
	ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False "$(VENV)/bin/ansible-playbook" playbooks/onboard_partner.yml

# Servers needed by the integration tests must be present in CI: fail instead of skipping.
test: export MAILFLOW_REQUIRE_SERVERS := 1
test: system-deps venv collection action-group changelog-lint ee build docs units lint sanity integration
	$(call say,test: all checks passed)

bench: venv collection
	$(call say,bench: benchmarks/ (speed ratios measured in one run; not part of make test))
	"$(VPY)" benchmarks/inbound_noop.py
	"$(VPY)" benchmarks/probe_concurrency.py
	"$(VPY)" benchmarks/partner_check.py

clean:
	$(call say,clean: removing .build/ansible-test .build/ee .build/dist tests/output .pytest_cache)
	rm -rf .build/ansible-test "$(EE_CONTEXT)" "$(DIST)" tests/output .pytest_cache
