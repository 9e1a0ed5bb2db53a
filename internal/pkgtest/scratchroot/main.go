package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/guichet/guichet/internal/pkgtest"
)

func main() {
	r := pkgtest.Root{Mirror: pkgtest.DefaultMirror, Suite: pkgtest.DefaultSuite, Packages: append(strings.Fields(os.Args[1]), pkgtest.TestPackages...)}
	fmt.Println("key", r.Key())
	img, err := r.Image(context.Background(), pkgtest.DefaultCache(), os.Stdout)
	fmt.Println(img, err)
}
