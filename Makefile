# guichet: `make demo` runs the appliance on simulated hardware; `make test`
# runs every test. Both install what is missing first (Debian 12, as root).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS := -buildvcs=false

# Debian packages the build, the demo and the tests need.
APT_PACKAGES := gcc g++ pkg-config libopencv-dev opencv-data libzxing-dev \
	mosquitto mosquitto-clients nats-server \
	pcscd vsmartcard-vpcd libpcsclite-dev util-linux iproute2 \
	chromium fonts-noto-cjk fonts-wqy-microhei zbar-tools zxing-cpp-tools sqlite3 \
	swtpm swtpm-tools systemd

GO_TEST_TIMEOUT ?= 20m
UI_PORT ?= 8080

.PHONY: all deps build demo test vet fmt-check unit bench fuzz fault-test clean package

all: build

# deps installs the Debian packages that are missing, and nothing else.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v go >/dev/null || { echo "Go 1.26 is needed in /usr/local/go or on PATH"; exit 1; }

build: deps
	go build -o bin/ ./cmd/...

demo: build
	UI_PORT=$(UI_PORT) deploy/demo/demo.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: deps
	go vet ./...

# test: formatting, vet, then every test (unit, wire-level, real broker,
# pcscd, browser, GPIO against a real kernel under qemu) under the race
# detector. qemu-gpio-sim builds the kernel module that test needs.
test: deps qemu-gpio-sim fmt-check vet build
	go test -race -timeout $(GO_TEST_TIMEOUT) ./...

bench: deps
	set -o pipefail; go test -run '^$$' -bench . -benchtime=1x -timeout 30m ./... | go run ./internal/benchfig/benchfmt

# fuzz runs each fuzz target for FUZZTIME.
FUZZTIME ?= 20s
fuzz: deps
	@for pkg in $$(go list ./...); do \
		for f in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# package builds the Debian packages into dist/ with nfpm as a Go library
# (internal/pkgbuild): guichet and guichet-platform for amd64, the pure-Go
# guichet-platform for arm64, guichet for arm64 when `make build-arm64`
# left bin/linux_arm64/{guichetd,guichet}, and guichet-kiosk (all).
# VERSION=1.2.3 sets the version (default: git describe, or 0.0.0+gitHASH).
VERSION ?=
PKG_LDFLAGS := -s -w
package: deps
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags='$(PKG_LDFLAGS)' -o bin/linux_amd64/ ./cmd/guichetd ./cmd/guichet
	for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags='$(PKG_LDFLAGS)' -o bin/linux_$$arch/ ./cmd/guichet-platform || exit 1; \
	done
	go run ./internal/pkgbuild/build -version '$(VERSION)' -bin bin -out dist

clean:
	rm -rf bin var dist
include deploy/make/fault.mk
include deploy/make/qemu.mk
include deploy/make/arm64.mk
include deploy/make/package-test.mk
