// Package e2e holds the end-to-end tests: the three programs built and run
// as separate processes against a real Mosquitto, driven through the
// command line and the local API as a cashier and a script would.
package e2e
