package oci

import (
	"slices"
	"testing"
)

func TestSpecExtraCaps(t *testing.T) {
	c := Spec(Options{Binary: "/x", ExtraCaps: []string{"CAP_SYS_ADMIN"}}).Process.Capabilities
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !slices.Contains(set, "CAP_SYS_ADMIN") {
			t.Errorf("%s set %v lacks the extra CAP_SYS_ADMIN", name, set)
		}
	}
	if slices.Contains(Spec(Options{Binary: "/x"}).Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
		t.Error("CAP_SYS_ADMIN granted without ExtraCaps")
	}
}
