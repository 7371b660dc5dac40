# Two commands matter: `make run` and `make test`. Everything else is reachable from them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= data
PORT ?= 8501
YOLOX := yolox==0.3.0
export PYTHONUNBUFFERED := 1

.PHONY: run test demo bench venv test-deps browser clean help

help:
	@echo "make run    set up and start the app (missing demo models build in the background)"
	@echo "make test   set up test dependencies and run every test"
	@echo "make demo   regenerate the synthetic cohorts and retrain both demo bundles"
	@echo "make bench  print benchmarks, write bench/results.json and the README table"

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@# YOLOX (chest detector) builds against the pinned torch, without its declared deps
	@# (docs/yolox.md); where it cannot build, chest_yolox is simply not offered.
	$(PY) -m pip install -q --no-deps --no-build-isolation --no-binary yolox $(YOLOX) \
	  || echo "yolox could not be built here: the chest study offers frcnn, effdet and fcos"
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

venv: $(VENV)/.runtime
test-deps: $(VENV)/.test browser

# Debian's chromium for the real-browser test; Playwright never downloads one.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "chromium missing: sudo apt-get install chromium (the browser test will be skipped)"; fi; }

# Debian's Orthanc with its DICOMweb plugin: the PACS tests start one on localhost ports
# from a temporary config (tests/pacs_fixtures.py). The package's own system service is
# switched off where systemd runs it: the tests need the binary, not a server on port 8042.
.PHONY: pacs-server
test-deps: pacs-server
pacs-server:
	@test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q orthanc orthanc-dicomweb \
	    && { systemctl disable --now orthanc 2>/dev/null || true; }; \
	  else echo "Orthanc missing: sudo apt-get install orthanc orthanc-dicomweb (the PACS tests will be skipped)"; fi; }

# Debian's Pango for WeasyPrint's PDF reports (core/review/pdf.py). Without it the app runs
# and its pages say that PDF reports need it; the PDF tests need it.
.PHONY: pdf-libs
run test-deps: pdf-libs
pdf-libs: $(VENV)/.runtime
	@$(PY) -c "import weasyprint" 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; } \
	    || echo "Pango could not be installed: the pages will say PDF reports are unavailable"; \
	  else echo "Pango missing: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 (no PDF reports until then)"; fi; }

# The app starts at once; missing demo bundles build in one background process whose
# progress the pages show (core/demo_job.py). With REVIEW_BUNDLE (aneurysm) or
# REVIEW_CHEST_BUNDLE set, that study uses the named bundle and its demo is not built.
DEMO_STUDIES := $(if $(REVIEW_BUNDLE),,aneurysm) $(if $(REVIEW_CHEST_BUNDLE),,chest)
run: $(VENV)/.runtime
	$(if $(strip $(DEMO_STUDIES)),$(PY) -m core.demo_job --data $(DATA) $(DEMO_STUDIES))
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

demo: $(VENV)/.runtime
	$(PY) -m core.demo --data $(DATA) --force --study all

test: test-deps
	$(PY) -m pytest -q

bench: $(VENV)/.runtime
	@# the README table is regenerated even when one bench failed; make still fails then
	$(PY) -m bench; status=$$?; $(PY) -m bench.readme && exit $$status

# The full profile (724-px stage 1, SwinV2-CR tiny, ResNet18 at 224) trained one epoch on
# a 12-patient cohort, predicted, and opened on the case page with SwinV2 heatmaps.
.PHONY: full-profile
full-profile: $(VENV)/.runtime
	$(PY) scripts/full_profile.py --data $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache
