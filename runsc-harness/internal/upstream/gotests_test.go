package upstream

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGoTests: the test functions a patch adds, and the one an added line
// of an existing test is in, by package; helpers and other files are not
// tests.
func TestGoTests(t *testing.T) {
	patch := `diff --git a/pkg/a/a_test.go b/pkg/a/a_test.go
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/pkg/a/a_test.go
@@ -0,0 +1,11 @@
+package a
+
+func helper() {}
+
+func TestNew(t *testing.T) {
+}
+
+func TestOther(t *testing.T) {
+}
+
+type notATest struct{}
diff --git a/pkg/b/b_test.go b/pkg/b/b_test.go
index 2222222..3333333 100644
--- a/pkg/b/b_test.go
+++ b/pkg/b/b_test.go
@@ -10,6 +10,7 @@ func TestOld(t *testing.T) {
 	x := 1
 	y := 2
 	_ = x
+	_ = y
 }
 
 func TestUntouched(t *testing.T) {
diff --git a/pkg/b/b.go b/pkg/b/b.go
index 4444444..5555555 100644
--- a/pkg/b/b.go
+++ b/pkg/b/b.go
@@ -1,3 +1,4 @@
 package b
 
+func TestLike(t *testing.T) {}
 var v int
`
	got, err := GoTests([]byte(patch))
	if err != nil {
		t.Fatalf("GoTests: %v", err)
	}
	want := map[string][]string{
		"pkg/a": {"TestNew", "TestOther"},
		"pkg/b": {"TestOld"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GoTests (-want +got):\n%s", diff)
	}
	if got, want := FormatGoTests(got), "`pkg/a`: TestNew, TestOther; `pkg/b`: TestOld"; got != want {
		t.Errorf("FormatGoTests = %q, want %q", got, want)
	}
}
