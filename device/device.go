// Package device holds what every kind of device shares: the registry
// through which drivers are chosen by configuration at run time.
//
// Each kind of device is one package below device/ holding its small
// interface and its registry of drivers: camera, codereader, cardreader,
// display, gpio and printer. Each driver lives in its own package below its kind
// and registers itself in init, in the manner of periph.io's host
// drivers. The daemon imports the drivers it ships and opens the ones its
// configuration names. README.md says where to add a driver.
package device
