# The README's two commands, `make recipe NAME=...` and `make test`, each create .venv and
# install on first use what they need: tfcook for a recipe; for the tests, also pytest, the
# notebook runner, the site builder, JAX and scikit-learn (the test extra).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NAME ?=
ARGS ?=

.PHONY: recipe test colab-check colab-constraints bench reference site list show readme notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -e ".[test]"
	touch $@

## make recipe NAME=quantize ARGS="--epochs=1"   run one recipe (default: mnist)
recipe: $(STAMP)
	$(BIN)/tfcook run $(or $(NAME),mnist) $(ARGS)

## make test                                      the whole test suite (what CI runs)
test: $(TEST_STAMP)
	$(BIN)/pytest $(ARGS)

## make colab-check                               tiny runs and a notebook per Colab image, at its versions (part of make test)
colab-check: $(TEST_STAMP)
	$(BIN)/pytest tests/test_colab.py $(ARGS)

## make colab-constraints [SOURCE=DIR]            rebuild colab/constraints-*.txt from Colab's package lists
colab-constraints:
	$(PYTHON) colab/update.py $(SOURCE)

## make bench NAME=mnist                          a recipe against its peer (all benchmarks without NAME)
bench: $(TEST_STAMP)
	@for f in $(if $(NAME),benchmarks/$(NAME).py,$(wildcard benchmarks/[a-z]*.py)); do \
		echo "== $$f"; $(BIN)/python $$f $(ARGS) || exit 1; done

## make reference NAME=mnist [BENCH=1|only]        record the default run in docs/results/NAME/ (NAME=all: every recipe; BENCH: its bench.json too, or only)
reference: $(TEST_STAMP)
	$(BIN)/python -m tfcook.reference $(or $(NAME),mnist) $(if $(filter only,$(BENCH)),--bench-only,$(if $(BENCH),--bench))

## make site                                      the documentation site (MkDocs, Material) from the recipes and records, into build/site
site: $(TEST_STAMP)
	$(BIN)/python -m tfcook.site --out build
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -f build/mkdocs.yml

## make readme                                    regenerate the README's recipe tables from the recipe headers
readme: $(STAMP)
	$(BIN)/python -c "import pathlib, tfcook.cli as c; p = pathlib.Path('README.md'); p.write_text(c.splice_readme(p.read_text()))"

## make notebooks                                 write notebooks/NAME.ipynb for every recipe (Colab links point there)
notebooks: $(STAMP)
	$(BIN)/tfcook notebook --all --out notebooks

list: $(STAMP)
	$(BIN)/tfcook list

show: $(STAMP)
	$(BIN)/tfcook show $(or $(NAME),mnist)

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
