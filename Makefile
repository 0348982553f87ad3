# m365.mailflow developer and CI entry points. `make help` lists the targets.
# Everything runs from the repo's own venvs (.venv, and .venv-<core> per tested ansible-core release); the collection
# is seen by Ansible through .build/collections/ansible_collections/m365/mailflow -> this checkout.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

REPO        := $(CURDIR)
# The primary venv (.venv: make demo, lint, docs, build, release) uses PYTHON; pip picks the newest ansible-core of
# tests/requirements.txt's range that this Python runs (3.11: 2.19; 3.12 or later: 2.21).
PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        := $(REPO)/.venv
VPY         := $(VENV)/bin/python
REQ_FILES   := tests/requirements.txt tests/requirements-tools.txt
# The ansible-core releases make test runs the unit, integration and sanity tests on: the oldest supported one
# (meta/runtime.yml requires_ansible) and the newest. Each has its own venv, .venv-<core>, from tests/requirements.txt
# with the ansible-core pin narrowed to that release, on the first Python of CORE_PYTHONS_<core> found on PATH or
# under pyenv (hacking/find-python.sh). CORE=<core> runs units, integration, sanity or docs in that venv.
CORE_VERSIONS   := 2.17 2.21
CORE_PYTHONS_2.17 := 3.11 3.12 3.10
CORE_PYTHONS_2.21 := 3.12 3.13 3.14
CORE        ?=
TVENV       := $(if $(CORE),$(REPO)/.venv-$(CORE),$(VENV))
TPY         := $(TVENV)/bin/python
# Integration tests run in parallel (pytest-xdist): they wait on ansible-playbook, servers and timeouts for much of
# their time. make test runs the releases at the same time, each with TEST_XDIST workers.
XDIST       ?= auto
TEST_XDIST  ?= 3
PYTEST_CACHE := $(REPO)/.build/pytest-cache$(if $(CORE),-$(CORE))
COLLECTIONS := $(REPO)/.build/collections
COLL_LINK   := $(COLLECTIONS)/ansible_collections/m365/mailflow
EE_CONTEXT  := $(REPO)/.build/ee
DIST        := $(REPO)/.build/dist

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

say = @printf '\n==> %s\n' "$(1)"

.PHONY: help venv venv-rebuild venv-cores venvs collection system-deps action-group changelog-lint ee build docs \
	docs-lint docsite docsite-rst mermaid-cli units integration sanity lint demo bench test test-core test-cores release clean

help:
	@echo "make test          everything CI runs (system-deps, venvs, collection, every check, cheapest first)"
	@echo "make venv          create/refresh .venv from tests/requirements*.txt (stamp-guarded)"
	@echo "make venv-cores    create/refresh .venv-<core> for each of CORE_VERSIONS ($(CORE_VERSIONS))"
	@echo "make venv-rebuild  delete and re-create .venv"
	@echo "make collection    .build/collections/ansible_collections/m365/mailflow -> this checkout"
	@echo "make system-deps   apt-get install postfix swaks dnsmasq-base chromium-headless-shell... when missing (root or sudo)"
	@echo "make units | integration | sanity | docs   [CORE=2.17|2.21: in that ansible-core's venv]"
	@echo "make test-core CORE=2.17   units, sanity and integration on one ansible-core"
	@echo "make lint | ee | build | action-group | changelog-lint | docs-lint"
	@echo "make docsite       the HTML docs site in .build/docsite (offline); make docsite-rst: guides -> RST"
	@echo "make mermaid-cli   the Mermaid CLI in .build/mermaid (npm ci of hacking/mermaid; docs diagrams and diagram tests)"
	@echo "make release VERSION=x.y.z [SUMMARY='...']   changelog release, version bump, build (no commit)"
	@echo "make demo          onboard the example partners into the sandbox (.sandbox/), with partner servers on 127.0.0.1"
	@echo "make bench         run the benchmarks under benchmarks/ (ratios, API calls per task)"

# --- environment ------------------------------------------------------------------------------------------------

system-deps:
	$(call say,system-deps: checking postfix swaks dnsmasq-base chromium-headless-shell and python venv support)
	PYTHON="$(PYTHON)" hacking/system-deps.sh

# hacking/venv.sh keeps a stamp (requirement files, extra pins, interpreter version): an unchanged venv is left alone,
# a changed one is updated with pip (others may be using it), a missing or broken one is created.
venv:
	$(call say,venv: $(VENV) with $(PYTHON) from $(REQ_FILES))
	hacking/venv.sh "$(VENV)" "$(PYTHON)" $(REQ_FILES)

venv-cores:
	@$(foreach core,$(CORE_VERSIONS),\
		python="$$(hacking/find-python.sh $(CORE_PYTHONS_$(core)))"; \
		printf '\n==> %s\n' "venv-cores: $(REPO)/.venv-$(core) (ansible-core $(core).*) with $$python"; \
		hacking/venv.sh "$(REPO)/.venv-$(core)" "$$python" tests/requirements.txt -- "ansible-core==$(core).*";)

venvs: venv venv-cores

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

# The image's build context: meta/execution-environment.yml installs the tarball of `make build`.
# tests/integration/test_execution_environment.py checks such a context in detail.
ee: build
	$(call say,ee: ansible-builder create -f meta/execution-environment.yml -c .build/ee)
	rm -rf "$(EE_CONTEXT)"
	"$(VENV)/bin/ansible-builder" create -f meta/execution-environment.yml -c "$(EE_CONTEXT)" \
		--output-filename Containerfile -v 1
	test -s "$(EE_CONTEXT)/Containerfile"
	test -s "$(EE_CONTEXT)/_build/collections/m365-mailflow-$$(sed -n 's/^version: *//p' galaxy.yml).tar.gz"
	test -f "$(EE_CONTEXT)/_build/requirements.txt" && test ! -L "$(EE_CONTEXT)/_build/requirements.txt"

# The tarball holds the files git tracks (hacking/build.py), never what the guides have users create in a checkout
# (exported/, drift/, .sandbox/, ...); galaxy.yml's build_ignore then leaves out what a user does not need.
build: venv
	$(call say,build: the tracked files of the checkout -> ansible-galaxy collection build -> .build/dist)
	"$(VPY)" hacking/build.py --output-path "$(DIST)"

docs:
	$(call say,docs: ansible-doc renders every module and its attributes ($(TVENV)))
	VENV="$(TVENV)" hacking/check-docs.sh

# antsibull-docs lint of the module, role and extra docs (O() references, links.yml, extra-docs.yml), and the
# guides' RST pages in step with docs/*.md.
docs-lint:
	$(call say,docs-lint: antsibull-docs lint-collection-docs --plugin-docs; docs/docsite/rst up to date)
	cd "$(COLL_LINK)" && PATH="$(VENV)/bin:$$PATH" "$(VENV)/bin/antsibull-docs" lint-collection-docs --plugin-docs .
	"$(VPY)" hacking/docsite/generate.py --check

docsite-rst:
	$(call say,docsite-rst: docs/*.md -> docs/docsite/rst/*.rst)
	"$(VPY)" hacking/docsite/generate.py

# The Mermaid CLI (npm, hacking/mermaid/package-lock.json) renders the guides' diagrams in the docs site and checks
# the diagrams in the tests; its browser is Debian's Chromium (make system-deps).
mermaid-cli:
	$(call say,mermaid-cli: @mermaid-js/mermaid-cli into .build/mermaid (npm ci, no browser download))
	hacking/mermaid-cli.sh

docsite: mermaid-cli
	$(call say,docsite: antsibull-docs + Sphinx into .build/docsite (offline))
	VENV="$(VENV)" hacking/docsite/build.sh

units:
	$(call say,units: pytest tests/unit ($(TVENV)))
	"$(TPY)" -m pytest -o cache_dir="$(PYTEST_CACHE)" tests/unit

lint:
	$(call say,lint: ansible-lint (roles/ playbooks/) and antsibull-changelog lint)
	"$(VENV)/bin/antsibull-changelog" lint
	@targets=(); for d in roles playbooks; do [[ -d $$d ]] && targets+=("$$d"); done; \
	if [[ $${#targets[@]} -gt 0 ]]; then \
		echo "lint: ansible-lint $${targets[*]}"; \
		PATH="$(VENV)/bin:$$PATH" "$(VENV)/bin/ansible-lint" --offline "$${targets[@]}"; \
	else echo "lint: no roles/ or playbooks/ yet"; fi

sanity:
	$(call say,sanity: ansible-test sanity (offline, --venv) in $(TVENV) on a copy in .build/ansible-test)
	VENV="$(TVENV)" ANSIBLE_TEST_PYTHON="$$("$(TPY)" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
		hacking/ansible-test-offline.sh sanity

integration:
	$(call say,integration: pytest tests/integration -n $(XDIST) ($(TVENV); MAILFLOW_REQUIRE_SERVERS=$${MAILFLOW_REQUIRE_SERVERS:-unset}))
	"$(TPY)" -m pytest -o cache_dir="$(PYTEST_CACHE)" tests/integration -n $(XDIST)

# One ansible-core release: ansible-doc, units, sanity, integration (make test runs it for each of CORE_VERSIONS).
test-core:
	@[[ -n "$(CORE)" ]] || { echo "test-core: CORE=<ansible-core release> required ($(CORE_VERSIONS))" >&2; exit 2; }
	$(MAKE) --no-print-directory docs units sanity integration CORE=$(CORE)

# The demo world (hacking/demo_world.py): partner mail servers on 127.0.0.1 (aiosmtpd, STARTTLS, a demo CA) for the
# duration of one ansible-playbook run, which points the sandbox at them (examples/demo/sandbox_world.yml) and
# onboards the example partners. The servers are threads of demo_world.py: they stop with it, also on a failure or
# Ctrl-C.
demo: venv collection
	$(call say,demo: playbooks/onboard_partner.yml against the sandbox (.sandbox/) with the demo world on 127.0.0.1)
	mkdir -p .sandbox
	ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False "$(VPY)" hacking/demo_world.py \
		--state .sandbox/demo-world --sandbox "$(REPO)/.sandbox/tenant.db" -- \
		"$(VENV)/bin/ansible-playbook" examples/demo/sandbox_world.yml playbooks/onboard_partner.yml

# Servers needed by the integration tests must be present in CI: fail instead of skipping.
test: export MAILFLOW_REQUIRE_SERVERS := 1
test: system-deps venvs collection mermaid-cli action-group changelog-lint docs-lint docs ee lint docsite test-cores
	$(call say,test: all checks passed on ansible-core $(CORE_VERSIONS))

# Every release of CORE_VERSIONS at the same time (hacking/test-cores.sh: output lines prefixed [<release>]).
test-cores:
	$(call say,test-cores: test-core for ansible-core $(CORE_VERSIONS) at the same time (pytest-xdist -n $(TEST_XDIST) each))
	MAKE="$(MAKE)" XDIST=$(TEST_XDIST) hacking/test-cores.sh $(CORE_VERSIONS)

# make release VERSION=x.y.z [SUMMARY='...']: hacking/release.py (version in galaxy.yml and the EE, antsibull-changelog
# release: changelogs/changelog.yaml and CHANGELOG.rst), then the tarball. Nothing is committed or published.
release: venv collection
	$(call say,release: $(VERSION))
	@[[ "$(VERSION)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$$ ]] || { echo "release: VERSION=x.y.z required" >&2; exit 2; }
	"$(VPY)" hacking/release.py "$(VERSION)"
	$(MAKE) --no-print-directory build

bench: venv collection
	$(call say,bench: benchmarks/ (speed ratios measured in one run; not part of make test))
	"$(VPY)" benchmarks/inbound_noop.py
	"$(VPY)" benchmarks/probe_concurrency.py
	"$(VPY)" benchmarks/partner_check.py
	"$(VPY)" benchmarks/info_export.py

clean:
	$(call say,clean: removing .build/ansible-test* .build/ee .build/dist .build/docsite* tests/output .pytest_cache)
	rm -rf .build/ansible-test .build/ansible-test-* "$(EE_CONTEXT)" "$(DIST)" .build/docsite .build/docsite-src \
		tests/output .pytest_cache
