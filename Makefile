# gcompress build, test and demo entry points. `make demo` and `make test` are
# the two commands a newcomer runs; both fetch what they need.
GO      ?= go
BIN     := bin/gcompress
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Seconds each fuzz target runs in `make fuzz` (CI uses the default).
FUZZTIME ?= 5s

.PHONY: all build demo test test-short peers testdata check-go vet fmt-check fuzz conformance clean

all: build

check-go:
	@command -v $(GO) >/dev/null || { echo "Go is missing: install Go 1.26 from https://go.dev/dl/ and put it on PATH" >&2; exit 1; }
	@v=$$($(GO) env GOVERSION | sed 's/^go//'); \
	 case "$$v" in 1.2[6-9]*|1.[3-9][0-9]*) ;; *) echo "Go $$v found; gcompress needs Go >= 1.26" >&2; exit 1;; esac

build: check-go
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gcompress

# The end-to-end job on the embedded MNIST digits. ONNX Runtime is fetched
# for the cross-check when npm is there; without it the demo says so.
demo: build
	@./scripts/fetch-ort.sh || echo "(continuing without ONNX Runtime: the demo skips its cross-check)" >&2
	./$(BIN) demo

# Peers the tests compare against: ONNX Runtime (npm) and ONNX's conformance
# data (Debian libonnx-testdata).
peers:
	./scripts/fetch-ort.sh
testdata:
	./scripts/ensure-testdata.sh

test: check-go peers testdata vet fmt-check
	$(GO) test -timeout 25m ./...

# Unit tests only, without the peers (quick inner loop).
test-short: check-go
	$(GO) test -short ./...

vet: check-go
	$(GO) vet ./...

fmt-check: check-go
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	 if [ -n "$$out" ]; then echo "gofmt needed on:" $$out >&2; exit 1; fi

# Runs every fuzz target for FUZZTIME each.
fuzz: check-go
	@set -e; for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs grep -h -o '^func Fuzz[A-Za-z0-9_]*' /dev/null | sort -u | sed 's/func //'); do \
	  pkg=$$(dirname $$(grep -rl --include='*_test.go' "^func $$spec(" . | head -1)); \
	  echo "fuzz $$pkg $$spec ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$spec$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Prints the conformance numbers recorded in docs/RESULTS.md.
conformance: build testdata
	@for d in node pytorch-converted pytorch-operator simple; do \
	  printf '%-18s ' $$d; ./$(BIN) conformance /usr/share/libonnx-testdata/data/$$d | tail -1; done

clean:
	rm -rf bin demo-out
