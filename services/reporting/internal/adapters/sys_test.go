package adapters_test

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// The benchmark's system calls: Unix only, as the repository's tests are
// (pgcluster).

// offHeapSegment maps anonymous memory the Go runtime does not manage: a
// pre-generated season kept there is neither scanned by the GC nor counted
// in the heap that GOGC scales, so it does not change how often a rebuild
// collects (a season of a million complaints is a few GB, more than the
// facts the rebuild keeps live).
func offHeapSegment(size int) ([]byte, func() error, error) {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}

// processCPU is the CPU time (user + system) of this process so far, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// peakRSS is the most resident memory this process has had, in bytes.
func peakRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "linux" {
		return float64(ru.Maxrss) * 1024 // kilobytes there, bytes elsewhere
	}
	return float64(ru.Maxrss)
}

// mapFile maps a file read-only: a large dump read back without a copy on
// the Go heap.
func mapFile(f *os.File) ([]byte, func() error, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}

// syncDisks writes every dirty page of the machine to disk: a timed span
// then pays for its own writes only, not for the writeback of what ran
// before it (PostgreSQL here runs without fsync, so its CHECKPOINT leaves
// its writes in the page cache).
func syncDisks() { syscall.Sync() }
