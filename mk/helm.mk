# The Helm chart (helm/procplane) and its checks. Included by the top-level Makefile, which
# defines UV; `make test` runs the chart tests under tests/helm with everything else.
#
#   make checkov     install checkov from its own lock (tests/helm/checkov) into .procplane/tools
#   make helm-test   only the chart tests: lint, templates, schema, install, RBAC, checkov

CHECKOV_ENV ?= $(CURDIR)/.procplane/tools/checkov

.PHONY: checkov helm-test

checkov: setup
	@UV_PROJECT_ENVIRONMENT=$(CHECKOV_ENV) $(UV) sync --frozen --quiet --project tests/helm/checkov

helm-test: setup tools checkov
	@$(UV) run pytest tests/helm

# The chart tests run checkov and helm: `make test` installs both first.
test: checkov
