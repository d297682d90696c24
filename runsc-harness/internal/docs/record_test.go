package docs

import "testing"

func TestStampSeriesID(t *testing.T) {
	for _, tc := range []struct{ stamp, want string }{
		{"runsc version v0.0.0-20260518063529-209a0ce076a1+restartsys-core-4b7e351a981a.0001.0002.0003.0004", "restartsys-core-4b7e351a981a"},
		{"runsc version v0.0.0-20260905035102-160fafc42237+restartsys-core+parity-bd15cc7e82cf.0002", "restartsys-core+parity-bd15cc7e82cf"},
		{"runsc version v0.0.0-20260518063529-209a0ce076a1", ""},
		{"", ""},
	} {
		if got := StampSeriesID(tc.stamp); got != tc.want {
			t.Errorf("StampSeriesID(%q) = %q, want %q", tc.stamp, got, tc.want)
		}
	}
}
