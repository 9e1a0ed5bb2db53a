package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/guichet/guichet/internal/qemutest"
)

func main() {
	kv := qemutest.Kernels()[0]
	files, mods, err := qemutest.ModuleFiles(kv, qemutest.RootModules...)
	if err != nil {
		panic(err)
	}
	k, err := qemutest.PVH("/boot/vmlinuz-"+kv, os.TempDir())
	if err != nil {
		panic(err)
	}
	t0 := time.Now()
	m, err := qemutest.Start(context.Background(), qemutest.Guest{Kernel: k, Files: files, Modules: mods, Root: os.Args[1], Memory: 2048, CPUs: 2, Console: os.Stderr, Timeout: 10 * time.Minute, Append: "systemd.show_status=error"})
	if err != nil {
		panic(err)
	}
	for _, s := range os.Args[2:] {
		out, rc, err := m.Exec(context.Background(), s)
		fmt.Printf("[%v] %q -> rc %d err %v\n%s\n", time.Since(t0), s, rc, err, out)
	}
	res, err := m.Poweroff(context.Background())
	fmt.Println(res.Boot, res.Total, res.ExitStatus, err)
}
