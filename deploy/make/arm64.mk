# arm64.mk: the arm64 builds and their check under qemu user emulation.
#
#   build-arm64           bin/linux_arm64/{guichetd,guichet,guichet-platform}:
#                         the full build, cgo with aarch64-linux-gnu-gcc against
#                         Debian 12's arm64 OpenCV, zxing-cpp and pcsclite, from
#                         the sysroot deploy/make/arm64-sysroot.sh makes in
#                         $(ARM64_SYSROOT) (Debian's libopencv-dev is not
#                         Multi-Arch: same, so its arm64 build is unpacked there
#                         rather than installed). guichet-platform is pure Go.
#   build-arm64-noopencv  bin/linux_arm64_noopencv/{...}: the scanner-only build,
#                         pure Go (CGO_ENABLED=0, build tag noopencv): serial
#                         and HID code readers, the SAM card reader, display,
#                         GPIO, printer; no camera, no e-ID counter, no PC/SC.
#   noopencv-check        the tag builds and vets on amd64, with and without
#                         cgo, links no OpenCV, and its own test passes.
#   arm64-test            guichetd --check of both arm64 builds under
#                         qemu-aarch64 with the simulated counter of
#                         deploy/make/arm64-check.yaml.tmpl. `make test` runs it.
# Included by the Makefile.

ARM64_APT_PACKAGES := gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static \
	binfmt-support file
ARM64_SYSROOT ?= /var/cache/guichet/arm64-sysroot
ARM64_LIBDIR := $(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu
ARM64_CHECK_STATE ?= var/arm64-check

# The environment of the cgo cross build: pkg-config reads the sysroot's .pc
# files and prefixes their paths with it; --as-needed keeps the binary to the
# OpenCV modules it calls; rpath-link lets ld find their own dependencies.
ARM64_ENV := CGO_ENABLED=1 GOOS=linux GOARCH=arm64 \
	CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
	PKG_CONFIG_SYSROOT_DIR=$(ARM64_SYSROOT) \
	PKG_CONFIG_LIBDIR=$(ARM64_LIBDIR)/pkgconfig:$(ARM64_SYSROOT)/usr/share/pkgconfig \
	PKG_CONFIG_PATH= \
	CGO_CPPFLAGS="-I$(ARM64_SYSROOT)/usr/include -I$(ARM64_SYSROOT)/usr/include/aarch64-linux-gnu" \
	CGO_LDFLAGS="-L$(ARM64_LIBDIR) -Wl,--as-needed -Wl,-rpath-link,$(ARM64_LIBDIR) -Wl,-rpath-link,$(ARM64_SYSROOT)/lib/aarch64-linux-gnu -Wl,-rpath-link,$(ARM64_SYSROOT)/usr/lib"

.PHONY: arm64-deps arm64-sysroot build-arm64 build-arm64-noopencv noopencv-check arm64-test

arm64-deps:
	@missing=$$(for p in $(ARM64_APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

arm64-sysroot: arm64-deps
	deploy/make/arm64-sysroot.sh $(ARM64_SYSROOT)

build-arm64: arm64-sysroot
	$(ARM64_ENV) go build -o bin/linux_arm64/ ./cmd/guichetd ./cmd/guichet
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o bin/linux_arm64/ ./cmd/guichet-platform

build-arm64-noopencv:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags noopencv -o bin/linux_arm64_noopencv/ ./cmd/guichetd ./cmd/guichet ./cmd/guichet-platform

# The packages whose files carry the tag, vetted with it (tests included,
# which need cgo); the binaries must not link OpenCV.
NOOPENCV_PKGS := ./cmd/... ./internal/daemon ./ui
noopencv-check:
	CGO_ENABLED=0 go build -tags noopencv -o /dev/null ./cmd/guichetd
	CGO_ENABLED=0 go build -tags noopencv -o /dev/null ./cmd/guichet
	go vet -tags noopencv $(NOOPENCV_PKGS)
	@if go list -tags noopencv -deps ./cmd/guichetd ./cmd/guichet | grep -E '^gocv.io/|/eid/face/internal/cvx$$|/codereader/codescan$$'; then \
		echo "noopencv-check: the noopencv build still links OpenCV through the packages above"; exit 1; fi
	go test -tags noopencv -count=1 -run 'TestNoOpenCV' ./internal/daemon

# arm64-test runs each arm64 guichetd under qemu-aarch64 (the sysroot's
# dynamic loader and libraries for the full build; none for the static
# noopencv one) and wants every simulated device loaded; the noopencv build
# must also refuse the cameras, naming them.
arm64-test: build-arm64 build-arm64-noopencv noopencv-check
	@set -e; st=$(ARM64_CHECK_STATE); rm -rf $$st; mkdir -p $$st; \
	head -c 32 /dev/urandom > $$st/subject.key; \
	sed -e "s#{{ROOT}}#$(CURDIR)#g" -e "s#{{STATE}}#$(CURDIR)/$$st#g" deploy/make/arm64-check.yaml.tmpl > $$st/full.yaml; \
	sed -e '/driver: camera/d' -e '/face_camera:/d' -e 's/counter: true/counter: false/' $$st/full.yaml > $$st/scanner.yaml; \
	file bin/linux_arm64/guichetd | grep -q 'ARM aarch64' || { echo "bin/linux_arm64/guichetd is not arm64"; exit 1; }; \
	file bin/linux_arm64_noopencv/guichetd | grep -q 'ARM aarch64.*statically linked' || { echo "bin/linux_arm64_noopencv/guichetd is not a static arm64 binary"; exit 1; }; \
	echo "== full arm64 build, simulated counter"; \
	QEMU_LD_PREFIX=$(ARM64_SYSROOT) qemu-aarch64-static bin/linux_arm64/guichetd --check --config $$st/full.yaml | tee $$st/full.out; \
	grep -q 'loaded devices.face_camera (folder)' $$st/full.out; grep -q 'loaded devices.code_readers\[1\] (camera)' $$st/full.out; \
	echo "== noopencv arm64 build, scanners only"; \
	qemu-aarch64-static bin/linux_arm64_noopencv/guichetd --check --config $$st/scanner.yaml; \
	echo "== noopencv arm64 build, asked for cameras"; \
	if qemu-aarch64-static bin/linux_arm64_noopencv/guichetd --check --config $$st/full.yaml > $$st/refused.out 2>&1; then \
		echo "the noopencv build accepted cameras"; exit 1; fi; \
	grep 'failed devices.face_camera: .*built without OpenCV' $$st/refused.out; \
	grep 'failed devices.code_readers\[1\]: .*built without OpenCV' $$st/refused.out; \
	echo "arm64-test: ok"

test: arm64-test
