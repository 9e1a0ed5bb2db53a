// Package confine holds no code: its tests prove, on a real Mosquitto
// running the shipped site configuration (deploy/mosquitto/site.conf with
// guichet.acl and provision.acl) and on a real NATS cluster with the
// permissions rendered by platform/natsauth, that a device is confined to
// its own topics in its own tenant, that an unenrolled client reaches only
// the provisioning topics, and that a certificate from another CA, no
// certificate, or a revoked certificate is refused.
//
// A confinement test shows that something does not arrive; to mean
// something, each one first measures how long the same delivery takes when
// it is allowed (the control, which differs from the attack only in the
// identity or topic), then waits many times that (attackWait) for the
// attack.
package confine
