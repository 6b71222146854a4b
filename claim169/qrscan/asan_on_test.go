//go:build asan

package qrscan

// asanBuild: under -asan, freed C memory sits in ASan's quarantine, so
// RSS-based leak checks are meaningless; ASan's own leak report is used.
const asanBuild = true
