package docker

import (
	"github.com/restartsys/restartsys/runsc-harness/internal/e2e"
	"github.com/restartsys/restartsys/runsc-harness/internal/series"
)

// The patches of the series whose bugs docker run and docker exec hit.
const (
	// syncSocketPatch fixes the EINTR from runc's sync-socket length
	// probe: both docker run and docker exec make it.
	syncSocketPatch = "0001"
	// fifoPatch fixes the EINTR from a blocking FIFO open: only docker run
	// opens runc's exec FIFO.
	fifoPatch = "0002"
)

// AffectedOps says, per operation, whether the series map has stock runsc
// of gVisor version affected by a bug that operation hits: exec by the
// sync-socket probe, run by that or the exec-FIFO open.
func AffectedOps(ser *series.Series, version string) map[e2e.Op]bool {
	says := func(id string) bool {
		for _, p := range ser.Patches {
			if p.ID == id {
				return p.MapSaysAffected(version)
			}
		}
		return false
	}
	sock, fifo := says(syncSocketPatch), says(fifoPatch)
	return map[e2e.Op]bool{e2e.OpExec: sock, e2e.OpRun: sock || fifo}
}
