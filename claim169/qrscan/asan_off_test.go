//go:build !asan

package qrscan

const asanBuild = false
