# package-test.mk: the package test (internal/pkgtest). guichet's .deb
# packages are installed, started, paid through, upgraded, removed and
# purged on Debian 12 booted under qemu with systemd as PID 1; the kiosk
# shows the cashier's screen in cage and Chromium on wlroots' headless
# backend.
#
# The Debian root is made once per package list with debootstrap (from
# the packages' Depends and the test's own tools) and kept as an ext4 image
# in $(QEMU_CACHE)/rootfs-HASH/root.img; every boot writes to a throwaway
# overlay. A cold root takes several minutes (downloads); a warm run only
# boots.
#
# Targets: package-deps (apt packages), package-root (the cached root),
# package-test (the tests). `make test` and `make bench` build the root
# first; their go test ./... runs the tests and BenchmarkInstallToReady
# (bench pkg_install_to_ready_s).

PKGTEST_APT_PACKAGES := debootstrap qemu-utils
PKGTEST_TIMEOUT ?= 15m

.PHONY: package-deps package-root package-test kiosk-test

package-deps: qemu-deps
	@missing=$$(for p in $(PKGTEST_APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

package-root: package-deps deps
	GUICHET_QEMU_CACHE=$(QEMU_CACHE) go test -count=1 -timeout 30m -run '^TestRootImage$$' -v ./internal/pkgtest

package-test: package-root
	GUICHET_QEMU_CACHE=$(QEMU_CACHE) go test -count=1 -timeout $(PKGTEST_TIMEOUT) -run '^TestPackage$$' -v ./internal/pkgtest

# kiosk-test: cage and Chromium in the guest (minutes more under software
# emulation, so not part of make test). SCREENS=1 writes
# docs/screens/kiosk-qemu.png.
kiosk-test: package-root
	GUICHET_QEMU_CACHE=$(QEMU_CACHE) go test -count=1 -timeout $(PKGTEST_TIMEOUT) -run '^TestKiosk$$' -v ./internal/pkgtest -kiosk $(if $(SCREENS),-screens)

test: package-root
bench: package-root
