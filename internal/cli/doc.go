// Package cli is the one command-line runner every edgetrust binary uses:
// a tree of commands and groups with help that exits 0, unknown commands
// answered with the closest name, SIGINT/SIGTERM as context cancellation,
// slog setup, and one order of configuration sources (flags, then
// EDGETRUST_<PART>_<FLAG> variables, then a --config file, then defaults).
//
// Exit codes are the same for every binary: 0 ok, 1 failure, 2 usage.
//
// It imports only the standard library and internal/jsonx (config files are
// read strictly): the daemons import it, never the other way round.
package cli
