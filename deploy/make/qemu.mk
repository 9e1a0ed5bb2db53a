# qemu.mk: what the kernel-level GPIO test (device/gpio/cdev, TestKernel)
# needs: qemu, Debian's kernel, a static busybox, and the gpio-sim module;
# the power-cut test (internal/fault/powercut) also makes an ext4 disk
# image (e2fsprogs) and unpacks the kernel (xz-utils).
#
# Debian 12's kernel is built without CONFIG_GPIO_SIM and CONFIG_IRQ_SIM, so
# qemu-gpio-sim builds gpio-sim out of tree from Debian's own kernel source
# (drivers/gpio/gpio-sim.c with kernel/irq/irq_sim.c linked in) against the
# matching headers. The .ko goes to $(QEMU_CACHE)/KVER/gpio-sim.ko, where the
# test looks for it. It is only ever loaded in the qemu guest.
#
# Targets: qemu-deps (apt packages), qemu-gpio-sim (the module), qemu-test
# (the test itself), qemu-clean.

QEMU_APT_PACKAGES := qemu-system-x86 linux-image-amd64 linux-headers-amd64 \
	linux-source-6.1 busybox-static xz-utils e2fsprogs make gcc
QEMU_CACHE ?= /var/cache/guichet/qemu

.PHONY: qemu-deps qemu-gpio-sim qemu-test qemu-clean

qemu-deps:
	@missing=$$(for p in $(QEMU_APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The source tarball is 140 MB of xz: extract only the three files needed.
qemu-gpio-sim: qemu-deps
	@set -e; kver=$$(ls -d /lib/modules/*/build | sed 's,/lib/modules/,,;s,/build,,' | sort -V | tail -n1); \
	ko=$(QEMU_CACHE)/$$kver/gpio-sim.ko; \
	if [ -f $$ko ]; then echo "gpio-sim for $$kver: $$ko"; exit 0; fi; \
	src=$$(ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n1); \
	sv=$$(dpkg-query -W -f='$${Version}' $$(basename $$src .tar.xz)); kv=$$(dpkg-query -W -f='$${Version}' linux-image-$$kver); \
	if [ "$$sv" != "$$kv" ]; then echo "warning: source $$sv is not the kernel's $$kv (gpiolib.h layout may differ)"; fi; \
	tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	echo "building gpio-sim for $$kver from $$src"; \
	tar -xJf $$src -C $$tmp --wildcards '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' '*/kernel/irq/irq_sim.c'; \
	mkdir $$tmp/m; \
	cp $$tmp/linux-source-*/drivers/gpio/gpio-sim.c $$tmp/m/gpio-sim-main.c; \
	cp $$tmp/linux-source-*/drivers/gpio/gpiolib.h $$tmp/linux-source-*/kernel/irq/irq_sim.c $$tmp/m/; \
	sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' $$tmp/m/irq_sim.c; \
	printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' > $$tmp/m/Kbuild; \
	$(MAKE) -s -C /lib/modules/$$kver/build M=$$tmp/m modules; \
	mkdir -p $$(dirname $$ko); cp $$tmp/m/gpio-sim.ko $$ko; echo "built $$ko"

qemu-test: qemu-gpio-sim
	go test -race -count=1 -run '^TestKernel$$' -v ./device/gpio/cdev

qemu-clean:
	rm -rf $(QEMU_CACHE)
