package intrcompare_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/intrcompare"
)

func TestAnalyzer(t *testing.T) {
	for _, pkg := range []string{
		"gvisor.dev/gvisor/pkg/errors/linuxerr",
		"gvisorpkg",
		"plain",
		"fiximport",
	} {
		t.Run(pkg, func(t *testing.T) {
			analysistest.Run(t, analysistest.TestData(), intrcompare.Analyzer, pkg)
		})
	}
}

// TestSuggestedFixes applies every fix and compares with the .golden files.
func TestSuggestedFixes(t *testing.T) {
	for _, pkg := range []string{"gvisorpkg", "plain", "fiximport", "gvisor.dev/gvisor/pkg/errors/linuxerr"} {
		t.Run(pkg, func(t *testing.T) {
			analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), intrcompare.Analyzer, pkg)
		})
	}
}
