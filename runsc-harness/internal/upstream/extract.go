package upstream

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// TestCase is one TEST, TEST_F or TEST_P block a patch adds.
type TestCase struct {
	// Name is "Suite.Name", as --gtest_filter takes it.
	Name string
	// File is the test file the patch adds it to.
	File string
	// Source is the block, with the comment lines just above it.
	Source string
}

var (
	diffFile  = regexp.MustCompile(`^\+\+\+ b/(test/syscalls/linux/[^/]+\.cc)$`)
	testStart = regexp.MustCompile(`^TEST(?:_F|_P)?\(\s*(\w+)\s*,\s*(\w+)\s*\)`)
)

// Extract returns the test cases a patch adds to test/syscalls/linux/*.cc:
// the blocks of added lines that start with TEST(, TEST_F( or TEST_P( at the
// start of a line and end at the first added line that is "}", with the
// added comment lines just above. A case must be written to compile on its
// own (its helpers inside it), since it is compiled without the rest of
// its file.
func Extract(patch []byte) ([]TestCase, error) {
	var (
		cases    []TestCase
		file     string
		comments []string
		cur      *TestCase
		body     []string
	)
	sc := bufio.NewScanner(bytes.NewReader(patch))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "diff --git ") {
			if cur != nil {
				return nil, fmt.Errorf("%s: %s has no closing \"}\" in the patch", file, cur.Name)
			}
			file, comments = "", nil
			continue
		}
		if m := diffFile.FindStringSubmatch(line); m != nil {
			file = m[1]
			continue
		}
		if file == "" {
			continue
		}
		if !strings.HasPrefix(line, "+") || strings.HasPrefix(line, "+++") {
			if cur != nil {
				return nil, fmt.Errorf("%s: %s is not added whole by the patch", file, cur.Name)
			}
			comments = nil
			continue
		}
		added := line[1:]
		switch {
		case cur != nil:
			body = append(body, added)
			if added == "}" {
				cur.Source = strings.Join(body, "\n") + "\n"
				cases = append(cases, *cur)
				cur, body = nil, nil
			}
		case testStart.MatchString(added):
			m := testStart.FindStringSubmatch(added)
			cur = &TestCase{Name: m[1] + "." + m[2], File: file}
			body = append(append([]string(nil), comments...), added)
			comments = nil
		case strings.HasPrefix(added, "//"):
			comments = append(comments, added)
		default:
			comments = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: %s has no closing \"}\" in the patch", file, cur.Name)
	}
	return cases, nil
}
