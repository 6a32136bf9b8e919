# Every target bootstraps what it needs (.venv) on a fresh clone.
#   make demo     the whole tenant lifecycle on a local AWS (no account, no Docker), in seconds
#                 (KEEP=1: leave it running afterwards, with a curl line to try, until Ctrl-C)
#   make test     the whole suite (sam validate/build and the construct library included), plus
#                 ruff, mypy, cfn-lint and checkov
#   make test-fast  the fast tier: planner, parsing, reasons, templates (no local AWS), in seconds
#   make lint     ruff, mypy, cfn-lint, and checkov on template.yaml
#   make bench    launch day: this project against the seed's sequence on API Gateway's quotas
#   make build    build/function.zip: the function, crhelper vendored, boto3 left to the runtime
#   make cdk      the CDK construct library (cdk/): compiled, its Python wheel in cdk/dist/python
#   make release  build/release/<version>/: the zip, the template for it, the construct
#                 library's npm tarball and wheel, SHA256SUMS
#   make deploy   build, then package and deploy template.yaml with the AWS CLI (no Docker):
#                 S3_BUCKET=… and, on a first deployment, REST_API_ID= AUTHORIZER_ID=
#                 STAGE_NAMES= PROTECTED_USER_POOL_ARNS= (or =none); optional ALLOWED_USER_POOL_ARNS=
#                 SHARED_USER_POOL_ARNS= SHARED_API_STACK_NAME= ALARM_TOPIC_ARN= REPAIR_SCHEDULE=
#                 RESERVED_CONCURRENCY= LOG_LEVEL= LOG_RETENTION_IN_DAYS= STACK_NAME=
#                 (an update keeps every one not given; =none empties one)
#   make smoke    on a real account, opt-in: ACCOUNT_ID=<the account> S3_BUCKET=<code bucket>
#                 (DRY_RUN=1: print every AWS call it would make, make none)
#   make clean    remove build/ and the tools' caches (not .venv)
#   make help     this list

.DEFAULT_GOAL := test
# The tests run on the Python of the Lambda runtime template.yaml deploys (its Runtime), found on
# PATH or among pyenv's versions; PYTHON=… names another interpreter of that version.
RUNTIME_PYTHON := 3.13
comma := ,
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach candidate,python$(RUNTIME_PYTHON) \
	$(wildcard $(HOME)/.pyenv/versions/$(RUNTIME_PYTHON).*/bin/python$(RUNTIME_PYTHON)),\
	$(if $(shell $(candidate) -c 'print(1)' 2>/dev/null),$(candidate))) python$(RUNTIME_PYTHON))
endif
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
# checkov pins a boto3 older than the suite's: it gets an environment of its own.
SCAN_VENV := .venv-scan
SCAN_READY := $(SCAN_VENV)/.ready
# So does the SAM CLI, which tests/test_sam.py runs (sam validate, sam build).
SAM_VENV := .venv-sam
SAM_READY := $(SAM_VENV)/.ready
# The CDK construct library (cdk/): its npm packages, and its Python binding's environment.
CDK_READY := cdk/node_modules/.ready
CDK_VENV := .venv-cdk
CDK_VENV_READY := $(CDK_VENV)/.ready
# jsii warns at every start that Node 20 is past its end of life (2026-04-30); it still runs it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
BUILD := build
ZIP := $(BUILD)/function.zip

# make deploy's parameters (scripts/deploy.py): only those given are sent, so an update keeps the
# stack's value of every other one.
STACK_NAME ?= shared-authorizer-pools
DEPLOY_VARIABLES := S3_BUCKET REST_API_ID AUTHORIZER_ID STAGE_NAMES ALLOWED_USER_POOL_ARNS \
	PROTECTED_USER_POOL_ARNS SHARED_USER_POOL_ARNS SHARED_API_STACK_NAME ALARM_TOPIC_ARN \
	REPAIR_SCHEDULE RESERVED_CONCURRENCY LOG_LEVEL LOG_RETENTION_IN_DAYS
export STACK_NAME $(DEPLOY_VARIABLES)
AWS ?= aws
export AWS
# make smoke's: the account the credentials must belong to, and (unless DRY_RUN=1) S3_BUCKET.
ACCOUNT_ID ?=
DRY_RUN ?=
# Only DRY_RUN=1 (or yes, true) means a dry run; DRY_RUN=0 does not.
SMOKE_DRY_RUN := $(filter 1 yes true,$(DRY_RUN))

.PHONY: test test-fast lint build cdk release deploy check-deploy package-and-deploy smoke check-smoke smoke-run \
	demo bench clean help

# The interpreter .venv was made with; a .venv made by another one (or left half-made by a
# failed install) is rebuilt from scratch instead of failing until removed by hand.
PYTHON_ID := $(shell $(PYTHON) -c 'import sys; print(sys.executable, *sys.version_info[:3])' 2>/dev/null)
ifneq ($(PYTHON_ID),$(shell cat $(VENV)/.python-id 2>/dev/null))
$(shell rm -f $(READY))
endif

help:
	@sed -n 's/^#   make /make /p; s/^#                 /                /p' $(firstword $(MAKEFILE_LIST))

$(READY): requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma) ,$(RUNTIME_PYTHON))))' 2>/dev/null || \
		{ echo "make: needs Python $(RUNTIME_PYTHON), the Lambda runtime template.yaml deploys; $(PYTHON) is $$($(PYTHON) -V 2>&1 || echo missing). Run: make PYTHON=/path/to/python$(RUNTIME_PYTHON) ..."; exit 2; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The function's package, editable, so that `.venv/bin/python -m authorizer_pools` works.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	echo "$(PYTHON_ID)" > $(VENV)/.python-id
	touch $@

# One environment per pinned tool set: .venv-scan from requirements-scan.txt, and so on.
$(SCAN_READY) $(SAM_READY) $(CDK_VENV_READY): .venv-%/.ready: requirements-%.txt $(READY)
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(CDK_READY): cdk/package.json cdk/package-lock.json
	cd cdk && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The construct library, compiled with its assets (the registrar's template.yaml, as JSON, and
# `make build`'s zip: one source of truth), its Python wheel, installed in .venv-cdk.
cdk: $(CDK_READY) $(CDK_VENV_READY) build
	$(BIN)/python scripts/cdk_template.py template.yaml cdk/assets/template.json
	cp $(ZIP) cdk/assets/function.zip
	cp LICENSE cdk/LICENSE
	cd cdk && npx jsii --silence-warnings=reserved-word
	# SOURCE_DATE_EPOCH: the wheel's entries dated 1980-01-01, as the function's zip, whenever built.
	rm -rf cdk/dist && cd cdk && SOURCE_DATE_EPOCH=315532800 npx jsii-pacmak --targets python
	$(CDK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--force-reinstall cdk/dist/python/*.whl

# build/release/<version>/: what a release publishes, named for its version. The function's
# zip, the template pointing at it (`aws cloudformation package` or `sam deploy` uploads it), the
# construct library's npm tarball and Python wheel, and their SHA-256 sums.
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' resource/authorizer_pools/__init__.py)
RELEASE = $(BUILD)/release/$(VERSION)
release: cdk $(BUILD)/template.yaml
	rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	cp $(ZIP) $(RELEASE)/cognito-authorizer-pools-$(VERSION).zip
	sed 's|CodeUri: function.zip$$|CodeUri: cognito-authorizer-pools-$(VERSION).zip|' \
		$(BUILD)/template.yaml > $(RELEASE)/template.yaml
	cd cdk && npm pack --silent --pack-destination ../$(RELEASE) >/dev/null
	cp cdk/dist/python/*.whl LICENSE README.md $(RELEASE)/
	cd $(RELEASE) && sha256sum -- * > SHA256SUMS
	@cat $(RELEASE)/SHA256SUMS


lint: $(READY) $(SCAN_READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml examples/*.yaml
	# Every check checkov skips has its reason beside the resource (Metadata.checkov.skip);
	# offline. (checkov reads LOG_LEVEL, which make deploy exports.)
	LOG_LEVEL=WARNING $(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f template.yaml

# Two workers, whole files each (a file's tests share its fixtures' set-up).
test: lint $(SAM_READY) cdk
	$(BIN)/pytest --numprocesses 2 --dist loadfile

# The fast tier: the modules marked `fast` (the planner, parsing, reasons, retries, templates),
# with no local AWS, in seconds; `make test` stays the full gate.
test-fast: $(READY)
	$(BIN)/pytest -m fast -p no:xdist

demo: $(READY)
	$(BIN)/python -m demo $(if $(KEEP),--keep)

# make bench QUICK=1: N in 1, 10, 50, and the outage with 20 tenants (about 12 minutes).
bench: $(READY)
	$(BIN)/python -m bench $(if $(QUICK),--quick)

build: $(READY)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --require-hashes -r resource/requirements.txt -d $(BUILD)/wheels
	$(BIN)/python scripts/build_function_zip.py $(BUILD)/wheels $(ZIP)

# The template names its code folder (CodeUri: resource/); the deployed package is the zip
# `make build` made from it, so the packaged template points at that zip instead.
# Beside it, the files its Serverless Application Repository metadata names (LicenseUrl,
# ReadmeUrl): `aws cloudformation package` and `sam package` upload them, relative to it.
$(BUILD)/template.yaml: template.yaml $(BUILD)/LICENSE $(BUILD)/README.md
	@mkdir -p $(BUILD)
	sed 's|^\( *\)CodeUri: resource/$$|\1CodeUri: function.zip|' template.yaml > $@
	@test "$$(grep -c 'CodeUri: function.zip' $@)" = 1 || \
		{ echo "template.yaml: expected one 'CodeUri: resource/' line"; rm -f $@; exit 1; }

$(BUILD)/LICENSE $(BUILD)/README.md: $(BUILD)/%: %
	@mkdir -p $(BUILD)
	cp $< $@

# Everything make deploy needs is checked before anything is built, and every missing
# parameter is named at once (a first deployment needs more than an update).
check-deploy:
	@$(PYTHON) scripts/deploy.py check

deploy: check-deploy
	@$(MAKE) --no-print-directory package-and-deploy

package-and-deploy: build $(BUILD)/template.yaml
	TEMPLATE=$(BUILD)/template.yaml $(PYTHON) scripts/deploy.py run

# Refused before anything is built unless it names the account (and the code bucket).
check-smoke:
	@missing=""; \
	test -n "$(ACCOUNT_ID)" || missing="$$missing ACCOUNT_ID"; \
	test -n "$(SMOKE_DRY_RUN)$(S3_BUCKET)" || missing="$$missing S3_BUCKET"; \
	if [ -n "$$missing" ]; then \
		echo "make smoke needs:$$missing (e.g. make smoke ACCOUNT_ID=111122223333 S3_BUCKET=my-bucket; DRY_RUN=1 prints the calls)"; \
		exit 2; \
	fi; \
	case "$(ACCOUNT_ID)" in \
		[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) ;; \
		*) echo "make smoke: ACCOUNT_ID must be a 12-digit account id, not '$(ACCOUNT_ID)'"; exit 2;; \
	esac

smoke: check-smoke
	@$(MAKE) --no-print-directory smoke-run

smoke-run: $(READY) $(if $(SMOKE_DRY_RUN),,build $(BUILD)/template.yaml)
	$(BIN)/python -m smoke --account-id $(ACCOUNT_ID) $(if $(S3_BUCKET),--bucket $(S3_BUCKET)) \
		$(if $(SMOKE_DRY_RUN),--dry-run)

clean:
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache .hypothesis cdk/lib cdk/dist cdk/assets cdk/.jsii
