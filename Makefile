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
# data (Debian libonnx-testdata, under ONNX_TESTDATA).
ONNX_TESTDATA := /usr/share/libonnx-testdata/data
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
# (Each package and target pair: two packages may have targets of the
# same name.) Go 1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" as -fuzztime runs out, without any failing
# input (golang/go#75804, fixed in Go 1.27); such a run, and only such a
# run, is repeated once. A failing input (which go test writes under
# testdata/fuzz and names) or any other failure stops the target.
fuzz: check-go
	@set -e; grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func / /' | sort -u | \
	 while read -r file spec; do \
	  pkg=$$(dirname $$file); \
	  echo "fuzz $$pkg $$spec ($(FUZZTIME))"; \
	  run() { $(GO) test -run '^$$' -fuzz "^$$spec$$" -fuzztime $(FUZZTIME) $$pkg > build/fuzz.log 2>&1; }; \
	  mkdir -p build; rc=0; run || rc=$$?; cat build/fuzz.log; \
	  if [ $$rc -ne 0 ] && grep -q 'context deadline exceeded' build/fuzz.log && ! grep -q 'Failing input written' build/fuzz.log; then \
	    echo "fuzz $$pkg $$spec: the -fuzztime deadline race of Go 1.26 (golang/go#75804), no failing input; once more"; \
	    rc=0; run || rc=$$?; cat build/fuzz.log; \
	  fi; \
	  [ $$rc -eq 0 ]; \
	done

# Prints the conformance numbers recorded in docs/RESULTS.md.
conformance: build testdata
	@for d in node pytorch-converted pytorch-operator simple; do \
	  printf '%-18s ' $$d; ./$(BIN) conformance $(ONNX_TESTDATA)/$$d | tail -1; done

clean:
	rm -rf bin demo-out

# Training and distillation experiments of docs/RESULTS.md (issue 5): LeNet-5
# and LeNet-300-100 per seed, the mlp-1200-1200 teacher, mlp-800-800 and
# mlp-30-30 students from scratch and distilled at T in {2,4,8,20}. About an
# hour on 2 cores; finished runs are kept in REPRO_TRAIN_WORK, so a rerun
# continues an interrupted grid.
REPRO_TRAIN_WORK ?= /tmp/gcompress-repro-train
.PHONY: repro-train
repro-train: build
	$(GO) run ./bench/train -bin $(BIN) -data data/mnist -work $(REPRO_TRAIN_WORK) -out bench/results/train-distill.json

# ---- CUDA build (issue 4) ---------------------------------------------------
# kernels/*.cu -> gobind/fatbin/*.fatbin (nvcc; SASS for sm_80/86/89/90 and
# compute_90 PTX, compressed), embedded by the Go build with -tags
# gcompress_cuda (not "cuda": that tag switches gorgonia's own CUDA engine
# on; see cuda/doc.go). Building needs the CUDA 11.8 toolkit (Debian bookworm
# non-free: nvidia-cuda-toolkit); running needs an NVIDIA GPU.
NVCC         ?= nvcc
CUDA_TAG     := gcompress_cuda
CUDA_GENCODE := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
                -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=[sm_90,compute_90]
# --threads 2 compiles two architectures at once (2 cores on CI).
NVCC_FLAGS   ?= -std=c++14 -O3 --threads 2 -Xfatbin=-compress-all
# gemm_wgmma.cu is Hopper-only (wgmma, PTX ISA 8.2, sm_90a), which nvcc 11.8
# cannot target: it is compiled to compute_90 PTX and the header rewritten to
# ISA 8.2 / sm_90a (the instructions themselves are inline PTX, passed
# through). PTXAS_SM90A names a ptxas of CUDA 12 or newer (default: the
# one scripts/ptxas-sm90a.sh unpacks under build/, if there; .ci/run
# fetches it): with it, each kernel's own module (gobind.SplitPTX) is
# assembled for sm_90a into WGMMA_CUBINS (gobind/cmd/wgmmacubins, which
# fails on warnings, i.e. serialised wgmma, on spills and on the wgmma.sp
# metadata hazard), and an sm_90 GPU loads those cubins; without it the
# driver compiles each kernel from its PTX when first used (1.2 s a
# kernel on an H100).
# The PTX text is over 40 MiB; it is embedded gzip-compressed (a seventh).
WGMMA_PTX    := gobind/fatbin/gemm_wgmma.ptx.gz
WGMMA_CUBINS := gobind/fatbin/gemm_wgmma.cubin.tar.gz
PTXAS_SM90A  ?= $(wildcard build/ptxas-sm90a/usr/bin/ptxas)
KERNEL_SRCS  := $(filter-out kernels/gemm_wgmma.cu,$(wildcard kernels/*.cu))
KERNEL_DEPS  := $(wildcard kernels/*.cuh kernels/*.h)
FATBINS      := $(patsubst kernels/%.cu,gobind/fatbin/%.fatbin,$(KERNEL_SRCS))
CUDA_BIN     := bin/gcompress-cuda
BUNDLE       := gpu-bundle
BUNDLE_STAGE := build/gpu-bundle
# The GPU machines of this workplace take at most 64 MiB per call, the
# repository's tracked files (about 6 MiB) included.
BUNDLE_MAX_MIB := 56

.PHONY: check-nvcc kernels check-cuda test-emu build-cuda gpu-bundle test-gpu bench-gpu docker-cuda

check-nvcc:
	@command -v $(NVCC) >/dev/null || { echo "nvcc is missing: install the CUDA 11.8 toolkit (Debian: enable the non-free component, apt-get install nvidia-cuda-toolkit; see README, 'CUDA build')" >&2; exit 1; }

# The wgmma PTX first: its two halves (GC_WGMMA_PART) are the longest
# compiles, so with -j2 they run together and the fatbins follow.
kernels: check-nvcc $(WGMMA_PTX) $(FATBINS) $(if $(PTXAS_SM90A),$(WGMMA_CUBINS))

gobind/fatbin/%.fatbin: kernels/%.cu $(KERNEL_DEPS)
	$(NVCC) $(NVCC_FLAGS) -fatbin $(CUDA_GENCODE) -o $@.tmp $<
	@mv $@.tmp $@

WGMMA_PARTS := build/wgmma/part0.ptx build/wgmma/part1.ptx

build/wgmma/part%.ptx: kernels/gemm_wgmma.cu $(KERNEL_DEPS)
	@mkdir -p build/wgmma
	$(NVCC) -std=c++14 -O3 -ptx -arch=compute_90 -DGC_WGMMA_PART=$* -o $@.tmp $<
	@grep -q '^\.version 7\.8$$' $@.tmp && grep -q '^\.target sm_90$$' $@.tmp || { echo "$@: nvcc's PTX header is not ISA 7.8 / sm_90 (is nvcc 11.8?)" >&2; exit 1; }
	@mv $@.tmp $@

# One module of both halves, rewritten to ISA 8.2 / sm_90a: part 1's entries
# after part 0's, once its prelude (header, extern shared arrays; comments
# aside) is found equal to part 0's.
$(WGMMA_PTX): $(WGMMA_PARTS)
	@rm -f $(WGMMA_CUBINS)
	@prelude() { sed '/^\.visible \.entry/,$$d' $$1 | grep -v -e '^[[:space:]]*//' -e '^[[:space:]]*$$'; }; \
	 [ "$$(prelude build/wgmma/part0.ptx)" = "$$(prelude build/wgmma/part1.ptx)" ] || { echo "$@: the PTX halves' preludes differ" >&2; exit 1; }
	{ cat build/wgmma/part0.ptx; sed -n '/^\.visible \.entry/,$$p' build/wgmma/part1.ptx; } | \
	  sed -e 's/^\.version 7\.8$$/.version 8.2/' -e 's/^\.target sm_90$$/.target sm_90a/' | gzip -9n > $@.tmp
	@mv $@.tmp $@

# Also rebuilt when the code that splits, assembles, checks or records the
# modules changes (the sums would no longer match); not when PTXAS_SM90A
# names another ptxas (delete the archive for that).
$(WGMMA_CUBINS): $(WGMMA_PTX) gobind/ptx.go gobind/sass.go gobind/cubins.go $(wildcard gobind/cmd/wgmmacubins/*.go)
	$(GO) run ./gobind/cmd/wgmmacubins -ptxas "$(PTXAS_SM90A)" -out $@ $<

check-cuda: check-go kernels test-emu
	@for f in $(FATBINS); do \
	  list=$$(cuobjdump -lelf -lptx $$f) || exit 1; \
	  for a in sm_80 sm_86 sm_89 sm_90; do echo "$$list" | grep -q "$$a.cubin" || { echo "$$f: no $$a code" >&2; exit 1; }; done; \
	  echo "$$list" | grep -q "sm_90.ptx" || { echo "$$f: no compute_90 PTX" >&2; exit 1; }; \
	done
	@if [ -n "$(PTXAS_SM90A)" ]; then \
	  PTXAS_SM90A="$(PTXAS_SM90A)" $(GO) test -count=1 -run '^TestWgmmaEntriesAssemble$$' ./gobind || exit 1; \
	  echo "$(WGMMA_CUBINS): every wgmma kernel assembled for sm_90a from its current module by $$(tar -xzOf $(WGMMA_CUBINS) assembler), no warnings or spills, no GPU-scope fence in a loop, no wgmma.sp metadata hazard in the 2:4 SASS"; \
	else echo "$(WGMMA_PTX): built, not assembled (set PTXAS_SM90A to a CUDA 12+ ptxas: scripts/ptxas-sm90a.sh)"; fi
	$(GO) vet -tags $(CUDA_TAG) ./...
	@mkdir -p build/cuda-tests build/cuda-bin
	$(GO) test -c -tags $(CUDA_TAG) -o build/cuda-tests/ ./cuda/... ./gobind/... ./cmd/gcompress
	$(GO) build -tags $(CUDA_TAG) -o build/cuda-bin/ ./cmd/gcompress ./gobind/cmd/kernelbench
	$(GO) test -count=1 -tags $(CUDA_TAG) -run 'TestDeviceCuda|TestRunIdentityWritesOutputs|TestMalformedInputs|TestDevices' ./cmd/gcompress
	@echo "check-cuda: OK (kernels compiled for every target and passing the suites on the CPU emulator; cuda-tagged code vetted and built; the cuda build's CLI tests pass without a GPU; kernels on a GPU not run: that needs one)"

# The kernel sources compiled for the host (kernels/emu) through the shared
# test suites: checks their indexing, pipelines and epilogues without a GPU.
# Needs a C++17 compiler (g++, or the g++-11 that nvidia-cuda-toolkit pulls in)
# and the CUDA headers for the half types.
EMU_CXX = $(shell command -v g++ || command -v g++-12 || command -v g++-11)
test-emu: check-go
	@[ -n "$(EMU_CXX)" ] || { echo "test-emu needs g++ (apt-get install g++)" >&2; exit 1; }
	CXX=$(EMU_CXX) $(GO) vet -tags gcompress_emu ./kernels/emu ./cuda/backend
	@# The runtime backend's launches (QLinearConv: im2col and the int8 GEMM) on the emulator.
	CXX=$(EMU_CXX) $(GO) test -count=1 -tags gcompress_emu -run '^TestEmulated' ./cuda/backend
	mkdir -p build && CXX=$(EMU_CXX) $(GO) test -tags gcompress_emu -c -o build/emu.test ./kernels/emu
	@# Five jobs, two at a time: every other test and four shards of the GEMM suites.
	scripts/emu-tests.sh build/emu.test build

build-cuda: check-go kernels
	$(GO) build -tags $(CUDA_TAG) -ldflags "$(LDFLAGS)" -o $(CUDA_BIN) ./cmd/gcompress

# Everything a GPU host needs to test and benchmark the CUDA code, with no Go
# there: $(BUNDLE)/gcompress-gpu.tar.xz plus run.sh (see kernels/bundle/README.md).
# xz -9 keeps one copy of the wgmma PTX that each of the four binaries
# embeds (its 64 MiB window spans them): 21 MB where gzip made 59 MiB.
# The ONNX node tests of the ops the CUDA backend runs (Debian
# libonnx-testdata), for `gcompress --device cuda:0 conformance` there.
GPU_CONFORMANCE := test_add test_add_bcast test_dequantizelinear test_dequantizelinear_axis \
	test_matmul_2d test_matmul_3d test_matmul_4d test_matmulinteger test_qlinearmatmul_2D \
	test_qlinearmatmul_3D test_quantizelinear test_quantizelinear_axis test_relu test_softmax_axis_0 \
	test_softmax_axis_1 test_softmax_axis_2 test_softmax_default_axis test_softmax_example \
	test_softmax_large_number test_softmax_negative_axis

gpu-bundle: check-go kernels testdata build
	@command -v xz >/dev/null || { echo "xz is missing: apt-get install xz-utils" >&2; exit 1; }
	rm -rf $(BUNDLE_STAGE) $(BUNDLE)
	mkdir -p $(BUNDLE_STAGE)/bin $(BUNDLE_STAGE)/conformance $(BUNDLE_STAGE)/models $(BUNDLE_STAGE)/mnist $(BUNDLE) build/bundle-models
	for c in $(GPU_CONFORMANCE); do cp -r $(ONNX_TESTDATA)/node/$$c $(BUNDLE_STAGE)/conformance/ || exit 1; done
	@# test-gpu.sh's end-to-end check: an MLP trained here on the embedded digits (seconds), quantized
	@# as is and after 2:4 pruning (its three layers become QGemm, dense and 2:4), a LeNet-5 (one
	@# epoch, about 15 s; its two convolutions become QLinearConv), and the test digits.
	cp testdata/mnist/test-images-idx3-ubyte.gz testdata/mnist/test-labels-idx1-ubyte.gz $(BUNDLE_STAGE)/mnist/
	./$(BIN) train --arch lenet-300-100 --data testdata/mnist --epochs 3 --seed 1 -o build/bundle-models/mlp.onnx >/dev/null
	./$(BIN) prune build/bundle-models/mlp.onnx --method 2:4 -o build/bundle-models/mlp24.onnx >/dev/null
	./$(BIN) train --arch lenet5 --data testdata/mnist --epochs 1 --seed 1 -o build/bundle-models/lenet5.onnx >/dev/null
	for m in mlp mlp24 lenet5; do ./$(BIN) quantize build/bundle-models/$$m.onnx --calib testdata/mnist --calib-samples 200 \
	  -o $(BUNDLE_STAGE)/models/$$m-int8.onnx >/dev/null || exit 1; done
	$(GO) build -tags $(CUDA_TAG) -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(BUNDLE_STAGE)/bin/ ./cmd/gcompress ./gobind/cmd/kernelbench
	$(GO) test -c -tags $(CUDA_TAG) -trimpath -ldflags "-s -w" -o $(BUNDLE_STAGE)/bin/ ./cuda ./gobind ./cuda/backend
	cp kernels/bundle/test-gpu.sh kernels/bundle/bench-gpu.sh kernels/bundle/candidates-gpu.sh kernels/bundle/verify-gpu.sh \
	  kernels/bench/vendor_bench.py \
	  kernels/bundle/README.md $(BUNDLE_STAGE)/
	tar -cf - -C $(BUNDLE_STAGE) . | xz -9 -T1 > $(BUNDLE)/gcompress-gpu.tar.xz.tmp
	mv $(BUNDLE)/gcompress-gpu.tar.xz.tmp $(BUNDLE)/gcompress-gpu.tar.xz
	cp kernels/bundle/run.sh kernels/bundle/README.md $(BUNDLE)/
	@size=$$(du -sm $(BUNDLE) | cut -f1); echo "gpu-bundle: $$size MiB in $(BUNDLE)/"; \
	 [ $$size -le $(BUNDLE_MAX_MIB) ] || { echo "gpu-bundle is over $(BUNDLE_MAX_MIB) MiB" >&2; exit 1; }

# The image for GPU nodes (Dockerfile.cuda; needs a Docker engine that can
# pull debian:bookworm, or scripts/docker-base-debootstrap.sh to make it).
docker-cuda:
	docker build -f Dockerfile.cuda --build-arg VERSION=$(VERSION) -t gcompress:cuda .

# On a GPU host: run the bundle (built here with `make gpu-bundle` when Go
# and nvcc are present, else copied from a build machine).
test-gpu:
	@[ -f $(BUNDLE)/gcompress-gpu.tar.xz ] || $(MAKE) gpu-bundle
	$(BUNDLE)/run.sh test

bench-gpu:
	@[ -f $(BUNDLE)/gcompress-gpu.tar.xz ] || $(MAKE) gpu-bundle
	$(BUNDLE)/run.sh bench

# ---- Fast CPU kernels (issue 3) --------------------------------------------
# GEMM throughput (float32 and INT8, 1 and 2 threads) beside OpenBLAS in the
# same process (Debian libopenblas-dev; the openblas build tag links it),
# once with the core OpenBLAS picks itself and once with its AVX-512
# SkylakeX kernels, then the zoo models against ONNX Runtime (runs
# alternating, same threads) at 1 and 2 threads. Results with machine info
# and load average go to bench/results/cpu-*.json. Run it on a quiet
# machine: other jobs change every number (the reports also carry process
# CPU time, which for one thread is robust to them).
CPU_BENCH_MODELS ?= resnet50 squeezenet shufflenet densenet121 inception_v1
CPU_BENCH_THREADS ?= 1 2
.PHONY: bench-cpu
bench-cpu: build peers
	$(GO) run -tags openblas ./bench/gemm -threads 1,2 -out bench/results/cpu-gemm.json
	OPENBLAS_CORETYPE=SkylakeX $(GO) run -tags openblas ./bench/gemm -threads 1,2 -out bench/results/cpu-gemm-openblas-skylakex.json
	@for t in $(CPU_BENCH_THREADS); do for m in $(CPU_BENCH_MODELS); do \
	  out=bench/results/cpu-model-$$m-t$$t.json; \
	  ./$(BIN) bench model testdata/onnx-light/light_$$m.onnx --materialize 1 --vs-ort \
	    --threads $$t --runs 30 --json > $$out.tmp && mv $$out.tmp $$out || exit 1; \
	  printf '%-14s %s threads: ' $$m $$t; grep -E '"(ratio_ours_over_ort|cpu_ratio_ours_over_ort)"' $$out | tr -d ' \n'; echo; \
	done; done

# INT8 zoo models against ONNX Runtime on the same QDQ file: each light zoo
# model with seeded weights and N(0,1) calibration samples (bench/zooprep,
# in $(INT8_BENCH_DIR)/NAME), quantized by gcompress with --ort, then timed
# at 1 and 2 threads; JSON to bench/results/int8-model-NAME-tT.json. Models
# with residual adds (INT8_ADDS_MODELS) are quantized a second time with
# --quantize-adds=false, timed the same way into
# int8-float-adds-model-NAME-tT.json.
INT8_BENCH_DIR ?= /tmp/gcompress-int8-zoo
INT8_ADDS_MODELS ?= resnet50 shufflenet
.PHONY: bench-int8
bench-int8: build peers
	@for m in $(CPU_BENCH_MODELS); do \
	  d=$(INT8_BENCH_DIR)/$$m; \
	  $(GO) run ./bench/zooprep -model testdata/onnx-light/light_$$m.onnx -out $$d || exit 1; \
	  variants=int8; \
	  case " $(INT8_ADDS_MODELS) " in *" $$m "*) variants="int8 int8-float-adds";; esac; \
	  for v in $$variants; do \
	    flag=; [ $$v = int8-float-adds ] && flag=--quantize-adds=false; \
	    ./$(BIN) quantize $$d/model.onnx --calib $$d/calib.npy --calib-samples 16 $$flag -o $$d/$$v.onnx --ort || exit 1; \
	    for t in $(CPU_BENCH_THREADS); do \
	      out=bench/results/$$v-model-$$m-t$$t.json; \
	      ./$(BIN) bench model $$d/$$v.onnx --vs-ort --threads $$t --runs 30 --json > $$out.tmp && mv $$out.tmp $$out || exit 1; \
	      printf '%-14s %-15s %s threads: ' $$m $$v $$t; grep -E '"ratio_ours_over_ort"' $$out | tr -d ' \n'; echo; \
	    done; \
	  done; \
	done

# ---- Pruning and Deep Compression (issue 7) --------------------------------
# The experiments of docs/RESULTS.md, "Pruning and Deep Compression": dense
# baselines (seed 1), Deep Compression of LeNet-300-100 and LeNet-5 (gradual
# magnitude pruning, 6-bit weight sharing with centroid fine-tuning,
# Huffman coding), 2:4 pruning of LeNet-5, channel pruning of LeNet-5 and
# ResNet-mini to half their FLOPs and further (checked in ONNX Runtime), a 50% pruning
# that stays below the sparse break-even, a sensitivity scan, and the
# sparse-kernel break-even measurement. About 20 minutes on 2 cores; models
# go to REPRO_PRUNE_WORK, JSON and Markdown reports to bench/results/prune-*.
REPRO_PRUNE_WORK ?= /tmp/gcompress-repro-prune
PRUNE_DATA ?= data/mnist
PR := bench/results/prune
.PHONY: repro-prune
repro-prune: build peers
	@mkdir -p $(REPRO_PRUNE_WORK)
	GCOMPRESS_MEASURE_SPARSE=sparse_breakeven_table.go GCOMPRESS_MEASURE_SPARSE_JSON=$(CURDIR)/$(PR)-breakeven.json \
	  $(GO) test ./backend/cpu -run TestMeasureSparseBreakEven -count 1 -v -timeout 30m > $(REPRO_PRUNE_WORK)/breakeven.log
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gcompress
	./$(BIN) train --arch lenet-300-100 --data $(PRUNE_DATA) --seed 1 --threads 2 -o $(REPRO_PRUNE_WORK)/l300.onnx --json > $(REPRO_PRUNE_WORK)/l300.json
	./$(BIN) train --arch lenet5 --data $(PRUNE_DATA) --seed 1 --threads 2 -o $(REPRO_PRUNE_WORK)/lenet5.onnx --json > $(REPRO_PRUNE_WORK)/lenet5.json
	./$(BIN) train --arch resnet-mini --data $(PRUNE_DATA) --seed 1 --epochs 12 --lr 0.05 --momentum 0.9 --weight-decay 5e-4 \
	  --shift 2 --warmup-epochs 0.5 --threads 2 -o $(REPRO_PRUNE_WORK)/resnet-mini.onnx --json > $(REPRO_PRUNE_WORK)/resnet-mini.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/l300.onnx --method gradual --layer-sparsity fc1=0.925,fc2=0.91,fc3=0.75 \
	  --retrain-epochs 40 --recipe lenet-300-100 --data $(PRUNE_DATA) --seed 1 --threads 2 --ort \
	  -o $(REPRO_PRUNE_WORK)/l300-pruned.onnx --report $(PR)-dc-lenet300-prune.md --json > $(PR)-dc-lenet300-prune.json
	./$(BIN) encode $(REPRO_PRUNE_WORK)/l300-pruned.onnx --bits 6 --half-codebook --small raw16 --finetune-epochs 3 \
	  --data $(PRUNE_DATA) --seed 1 --threads 2 --reference $(REPRO_PRUNE_WORK)/l300.onnx --network LeNet-300-100 \
	  -o $(REPRO_PRUNE_WORK)/l300.gcz --report $(PR)-dc-lenet300-encode.md --json > $(PR)-dc-lenet300-encode.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/lenet5.onnx --method gradual --layer-sparsity conv1=0.4,conv2=0.85,fc1=0.96,fc2=0.85,fc3=0.6 \
	  --retrain-epochs 40 --recipe lenet5 --data $(PRUNE_DATA) --seed 1 --threads 2 --ort \
	  -o $(REPRO_PRUNE_WORK)/lenet5-pruned.onnx --report $(PR)-dc-lenet5-prune.md --json > $(PR)-dc-lenet5-prune.json
	./$(BIN) encode $(REPRO_PRUNE_WORK)/lenet5-pruned.onnx --bits 6 --half-codebook --small raw16 --finetune-epochs 3 \
	  --data $(PRUNE_DATA) --seed 1 --threads 2 --reference $(REPRO_PRUNE_WORK)/lenet5.onnx --network LeNet-5 \
	  -o $(REPRO_PRUNE_WORK)/lenet5.gcz --report $(PR)-dc-lenet5-encode.md --json > $(PR)-dc-lenet5-encode.json
	./$(BIN) decode $(REPRO_PRUNE_WORK)/lenet5.gcz -o $(REPRO_PRUNE_WORK)/lenet5-decoded.onnx
	./$(BIN) prune $(REPRO_PRUNE_WORK)/lenet5.onnx --method 2:4 --retrain-epochs 15 --recipe lenet5 --data $(PRUNE_DATA) \
	  --seed 1 --threads 2 --agreement-samples 1000 --latency-batch 1,64 \
	  -o $(REPRO_PRUNE_WORK)/lenet5-24.onnx --report $(PR)-24-lenet5.md --json > $(PR)-24-lenet5.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/lenet5.onnx --method channel --flops-reduction 0.5 --criterion l1 \
	  --retrain-epochs 15 --recipe lenet5 --data $(PRUNE_DATA) --seed 1 --threads 2 --ort --latency-batch 1,64 \
	  -o $(REPRO_PRUNE_WORK)/lenet5-channel50.onnx --report $(PR)-channel50-lenet5.md --json > $(PR)-channel50-lenet5.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/lenet5.onnx --method channel --flops-reduction 0.8 --criterion l1 \
	  --retrain-epochs 30 --recipe lenet5 --data $(PRUNE_DATA) --seed 1 --threads 2 --ort --latency-batch 1,64 \
	  -o $(REPRO_PRUNE_WORK)/lenet5-channel80.onnx --report $(PR)-channel80-lenet5.md --json > $(PR)-channel80-lenet5.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/resnet-mini.onnx --method channel --flops-reduction 0.5 --criterion l1 \
	  --retrain-epochs 12 --lr 0.05 --momentum 0.9 --weight-decay 5e-4 --shift 2 --warmup-epochs 0.5 --schedule cosine \
	  --data $(PRUNE_DATA) --seed 1 --threads 2 --ort --latency-batch 1,64 \
	  -o $(REPRO_PRUNE_WORK)/resnet-mini-channel50.onnx --report $(PR)-channel50-resnet-mini.md --json > $(PR)-channel50-resnet-mini.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/resnet-mini.onnx --method channel --flops-reduction 0.7 --criterion l1 \
	  --retrain-epochs 12 --lr 0.05 --momentum 0.9 --weight-decay 5e-4 --shift 2 --warmup-epochs 0.5 --schedule cosine \
	  --data $(PRUNE_DATA) --seed 1 --threads 2 --ort --latency-batch 1,64 \
	  -o $(REPRO_PRUNE_WORK)/resnet-mini-channel70.onnx --report $(PR)-channel70-resnet-mini.md --json > $(PR)-channel70-resnet-mini.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/l300.onnx --method magnitude --sparsity 0.5 --data $(PRUNE_DATA) --threads 2 \
	  -o $(REPRO_PRUNE_WORK)/l300-half.onnx --report $(PR)-below-breakeven-lenet300.md --json > $(PR)-below-breakeven-lenet300.json
	./$(BIN) prune $(REPRO_PRUNE_WORK)/l300.onnx --method magnitude --sensitivity 0.5 --val-fraction 0.1 --data $(PRUNE_DATA) \
	  --threads 2 --latency-runs 0 -o $(REPRO_PRUNE_WORK)/l300-sens.onnx --report $(PR)-sensitivity-lenet300.md --json > $(PR)-sensitivity-lenet300.json
	@echo "repro-prune: results in $(PR)-*.json / .md; models in $(REPRO_PRUNE_WORK)"
