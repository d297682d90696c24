package unretried_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/restartsys/restartsys/runsc-harness/eintrvet/passes/unretried"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), unretried.Analyzer, "a")
}
