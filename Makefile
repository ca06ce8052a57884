# Every target sets up what it needs: a virtualenv in .venv with femsim installed,
# and the Debian libraries off-screen VTK rendering needs (Mesa EGL).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
JOBS    ?= 2
export VTK_DEFAULT_OPENGL_WINDOW ?= vtkEGLRenderWindow
export MPLBACKEND ?= Agg
# two pytest workers on two cores: one MKL/BLAS thread each, not two each
test test-slow: export MKL_NUM_THREADS ?= 1
test test-slow: export OMP_NUM_THREADS ?= 1

.PHONY: demo test test-slow bench docs gallery setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml .ci/setup-system
	bash .ci/setup-system
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/femsim run cases/fig2_pseudogap_family.toml --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

docs: $(STAMP)
	$(BIN)/femsim schema > docs/case-reference.md

# docs/gallery.md and docs/gallery/*.png from every bundled case (runs them: minutes)
gallery: $(STAMP)
	$(BIN)/python docs/gallery.py

clean:
	rm -rf $(VENV) results .pytest_cache
