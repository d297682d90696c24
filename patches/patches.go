// Package patches holds the restartsys patch series for gVisor and its map,
// series.json, embedded so that a runsc-harness binary carries the series it
// was built with. The files in this directory are the source of truth; the
// series package of runsc-harness parses and applies them.
package patches

import "embed"

// FS is the series directory: series.json and the patch files it names.
//
//go:embed series.json core parity compat
var FS embed.FS
