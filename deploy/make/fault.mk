# fault-test: the fault scenarios (internal/e2e, TestFault*) that kill the
# daemon, the broker, NATS nodes and the network for real, then the power
# cut (internal/fault/powercut: the store in a qemu guest whose power is
# cut, with its control run that must lose payments), after the fault
# helpers' own tests (internal/fault). Each scenario prints one line that
# scripts read:
#   fault SCENARIO runs=N reported_stored=S applied=A duplicates=D lost=L
# The full verbose output is kept in $(FAULT_LOG). Needs mosquitto and
# nats-server (in APT_PACKAGES), qemu, Debian's kernel and e2fsprogs (in
# QEMU_APT_PACKAGES). Included by the Makefile.
FAULT_TIMEOUT ?= 15m
FAULT_LOG ?= var/fault-test.log

fault-test: deps qemu-deps
	@mkdir -p $(dir $(FAULT_LOG))
	go test -race -count=1 -timeout $(FAULT_TIMEOUT) ./internal/fault
	@set -o pipefail; \
	go test -race -count=1 -p 1 -v -timeout $(FAULT_TIMEOUT) -run '^TestFault' ./internal/e2e ./internal/fault/powercut > $(FAULT_LOG) 2>&1; rc=$$?; \
	grep -E '^(fault |--- (PASS|FAIL)|FAIL|ok )' $(FAULT_LOG); \
	if [ $$rc -ne 0 ]; then echo "fault-test failed: full output in $(FAULT_LOG)"; fi; \
	exit $$rc
