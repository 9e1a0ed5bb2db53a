// Package powercut cuts the power under the appliance's store for real: its
// test boots Debian's kernel under qemu with the checkout flow and the
// outbox on an ext4 virtio disk (guestpay), kills qemu while payments are
// being taken, boots again and checks that every payment the guest
// reported stored is on the disk, once.
//
// Killing guichetd (internal/e2e, TestFaultPowerLoss) leaves the host's
// page cache in place, so it cannot tell a store that syncs from one that
// does not; killing the virtual machine can. The package holds no code
// besides its test and the guest program.
package powercut
