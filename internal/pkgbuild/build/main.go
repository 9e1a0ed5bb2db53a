// Command build makes guichet's Debian packages (package pkgbuild) into
// a directory: amd64 always, arm64 where its binaries are in
// BIN/linux_arm64, and the kiosk's architecture-independent one.
//
//	go run ./internal/pkgbuild/build [-version 1.2.3] [-bin bin] [-out dist]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/guichet/guichet/internal/pkgbuild"
)

func main() {
	version := flag.String("version", "", "package `VERSION` (default: from git describe, or 0.0.0+gitHASH)")
	bin := flag.String("bin", "bin", "`DIR` holding linux_ARCH/ directories of programs")
	out := flag.String("out", "dist", "output `DIR`")
	root := flag.String("root", ".", "the repository's root `DIR`")
	flag.Parse()
	o := pkgbuild.Options{Root: *root, Bin: *bin, Version: *version}
	if o.Version == "" {
		o.Version = pkgbuild.DefaultVersion(*root)
	}
	for _, arch := range append(pkgbuild.Arches, "all") {
		pkgs, skipped, err := pkgbuild.Packages(o, arch)
		if err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
		for _, s := range skipped {
			fmt.Println("skipped", s)
		}
		for _, p := range pkgs {
			path, err := pkgbuild.Build(p, *out)
			if err != nil {
				fmt.Fprintln(os.Stderr, "build:", err)
				os.Exit(1)
			}
			fmt.Println("built", path)
		}
	}
}
