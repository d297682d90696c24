package upstream

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// savableType is a struct type marked "+stateify savable", with the fields
// stateify saves.
type savableType struct {
	name   string
	fields []string
	// recv is the receiver name of the type's methods in the source, if
	// any.
	recv string
	// unported, if set, says why derive cannot generate the type's state
	// functions: it is refused if they need to change.
	unported string
	// file is the name of the file that declares the type, without its
	// directory.
	file string
}

// portStateify updates the stateify output the Go-module snapshot carries
// checked in (<package>_state_autogen.go) for the savable struct types that
// the Go files of one step declare, in dir (the tree) over base (the module
// source): a type whose saved fields changed gets its state functions
// regenerated, a new type gets them and its state.Register. goFiles are the
// tree's files of the step, relative to dir: the patch's kept Go files and
// the generated ones. It returns the autogen files it wrote, with their
// contents.
//
// Only what stateify makes of plain fields is generated: a changed or new
// type with a state tag other than "nosave", or whose existing state
// functions save a field by value or wait for it on load, is refused, as is
// a package that has no stateify output yet or savable types in unsafe
// files, so that nothing is ported wrong unnoticed.
func portStateify(dir, base string, goFiles []string) (map[string][]byte, error) {
	byPkg := map[string][]string{}
	for _, name := range goFiles {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_autogen.go") || strings.HasSuffix(name, "_autogen_unsafe.go") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			continue // deleted
		}
		byPkg[path.Dir(name)] = append(byPkg[path.Dir(name)], name)
	}
	out := map[string][]byte{}
	pkgs := make([]string, 0, len(byPkg))
	for p := range byPkg {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkgDir := range pkgs {
		names := byPkg[pkgDir]
		sort.Strings(names)
		var types []savableType
		pkgName := ""
		for _, name := range names {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			pkgName = f.Name.Name
			ts, err := savableTypes(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for i := range ts {
				ts[i].file = path.Base(name)
			}
			if len(ts) > 0 && strings.HasSuffix(strings.TrimSuffix(name, ".go"), "_unsafe") {
				return nil, fmt.Errorf("%s: savable types in an unsafe file, whose stateify output derive does not port", name)
			}
			types = append(types, ts...)
		}
		if len(types) == 0 {
			continue
		}
		autogen := path.Join(pkgDir, pkgName+"_state_autogen.go")
		src, err := os.ReadFile(filepath.Join(dir, autogen))
		if os.IsNotExist(err) {
			src, err = os.ReadFile(filepath.Join(base, autogen))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: savable types but no stateify output to port them into: %w", pkgDir, err)
		}
		methods, err := packageMethods(dir, base, pkgDir)
		if err != nil {
			return nil, err
		}
		changed := false
		for _, st := range types {
			if st.recv == "" {
				st.recv = methods.recv[st.name]
			}
			var updated []byte
			updated, err = syncStateType(src, pkgDir, st, methods)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", autogen, st.name, err)
			}
			if !bytes.Equal(updated, src) {
				src, changed = updated, true
			}
		}
		if changed {
			out[autogen] = src
		}
	}
	return out, nil
}

// savableTypes returns the struct types of f marked "+stateify savable".
func savableTypes(f *ast.File) ([]savableType, error) {
	var out []savableType
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			if doc == nil || !strings.Contains(doc.Text(), "+stateify savable") {
				continue
			}
			if _, ok := ts.Type.(*ast.InterfaceType); ok {
				continue // stateify generates nothing for an interface
			}
			st := savableType{name: ts.Name.Name}
			s, ok := ts.Type.(*ast.StructType)
			if !ok || ts.TypeParams != nil {
				st.unported = "not a plain struct"
				out = append(out, st)
				continue
			}
			for _, field := range s.Fields.List {
				if field.Tag != nil {
					tag, err := strconv.Unquote(field.Tag.Value)
					if err != nil {
						return nil, err
					}
					switch v, ok := reflect.StructTag(tag).Lookup("state"); {
					case !ok:
					case v == "nosave":
						continue
					default:
						st.unported = fmt.Sprintf("field tag state:%q", v)
					}
				}
				if len(field.Names) == 0 {
					st.fields = append(st.fields, embeddedName(field.Type))
					continue
				}
				for _, n := range field.Names {
					if n.Name != "_" {
						st.fields = append(st.fields, n.Name)
					}
				}
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// embeddedName is the field name of an embedded type: T, *T, pkg.T.
func embeddedName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return embeddedName(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.IndexExpr:
		return embeddedName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return fmt.Sprintf("%T", e)
}

// pkgMethods are what stateify looks at in a package besides the struct:
// whether a type defines beforeSave or afterLoad itself, and the receiver
// name its methods use.
type pkgMethods struct {
	defined map[string]bool // "Key.afterLoad"
	recv    map[string]string
	// typeFile is the file, without its directory, that declares each
	// type.
	typeFile map[string]string
}

// packageMethods collects the methods of the package in pkgDir, from the
// tree's files and the module's (the tree's win), leaving out stateify's
// own output.
func packageMethods(dir, base, pkgDir string) (pkgMethods, error) {
	m := pkgMethods{defined: map[string]bool{}, recv: map[string]string{}, typeFile: map[string]string{}}
	files := map[string]string{}
	for _, root := range []string{base, dir} {
		names, err := filepath.Glob(filepath.Join(root, pkgDir, "*.go"))
		if err != nil {
			return m, err
		}
		for _, n := range names {
			files[filepath.Base(n)] = n
		}
	}
	for b, n := range files {
		if strings.HasSuffix(b, "_test.go") || strings.Contains(b, "_state_autogen") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), n, nil, parser.SkipObjectResolution)
		if err != nil {
			return m, err
		}
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, spec := range gd.Specs {
					m.typeFile[spec.(*ast.TypeSpec).Name.Name] = b
				}
			}
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			typ := embeddedName(fd.Recv.List[0].Type)
			m.defined[typ+"."+fd.Name.Name] = true
			if names := fd.Recv.List[0].Names; len(names) == 1 && names[0].Name != "_" && m.recv[typ] == "" {
				m.recv[typ] = names[0].Name
			}
		}
	}
	return m, nil
}

// stateBlock finds the state functions of typ in stateify output: from its
// StateTypeName to the next type's StateTypeName or the init function.
func stateBlock(src []byte, typ string) (start, end int, ok bool) {
	re := regexp.MustCompile(`(?m)^func \(\w+ \*` + regexp.QuoteMeta(typ) + `\) StateTypeName\(\) string \{`)
	loc := re.FindIndex(src)
	if loc == nil {
		return 0, 0, false
	}
	next := regexp.MustCompile(`(?m)^func (\(\w+ \*\w+\) StateTypeName\(\) string|init\(\)) \{`)
	rest := src[loc[1]:]
	n := next.FindIndex(rest)
	if n == nil {
		return loc[0], len(src), true
	}
	return loc[0], loc[1] + n[0], true
}

// stateFieldsRE finds the field list of a StateFields function.
var stateFieldsRE = regexp.MustCompile(`(?s)StateFields\(\) \[\]string \{\n\treturn \[\]string\{(.*?)\}\n\}`)

// syncStateType makes src, stateify output of the package in pkgDir, carry
// st's state functions for its current fields.
func syncStateType(src []byte, pkgDir string, st savableType, m pkgMethods) ([]byte, error) {
	start, end, ok := stateBlock(src, st.name)
	if ok && st.unported == "not a plain struct" {
		return src, nil // stateify's output for it is not about fields
	}
	if ok {
		block := src[start:end]
		fm := stateFieldsRE.FindSubmatch(block)
		if fm == nil {
			return nil, fmt.Errorf("no StateFields in its stateify output")
		}
		var old []string
		for _, l := range strings.Split(strings.TrimSpace(string(fm[1])), "\n") {
			if l = strings.TrimSuffix(strings.TrimSpace(l), ","); l != "" {
				old = append(old, strings.Trim(l, `"`))
			}
		}
		if strings.Join(old, ",") == strings.Join(st.fields, ",") {
			return src, nil
		}
		if st.unported == "" || strings.HasPrefix(st.unported, "field tag") {
			updated, err := updateStateBlock(block, st, old)
			if err != nil {
				return nil, err
			}
			out := append([]byte{}, src[:start]...)
			out = append(out, updated...)
			return append(out, src[end:]...), nil
		}
		return nil, fmt.Errorf("its saved fields change, but it is %s, whose stateify output derive does not port", st.unported)
	}
	if st.unported != "" {
		return nil, fmt.Errorf("a new savable type, but %s, whose stateify output derive does not port", st.unported)
	}
	initAt := regexp.MustCompile(`(?m)^func init\(\) \{\n`).FindIndex(src)
	if initAt == nil {
		return nil, fmt.Errorf("stateify output without an init function")
	}
	closeAt := bytes.Index(src[initAt[1]:], []byte("\n}\n"))
	if closeAt < 0 {
		return nil, fmt.Errorf("stateify output whose init function does not end")
	}
	closeAt += initAt[1] + 1
	// Where stateify puts it: before the first type declared in a file
	// that sorts after st's, and its registration before that type's; or
	// last.
	at, regAt := initAt[0], closeAt
	for typ, file := range m.typeFile {
		if file <= st.file {
			continue
		}
		if start, _, ok := stateBlock(src, typ); ok && start < at {
			at = start
			regAt = closeAt
			if i := bytes.Index(src, []byte(fmt.Sprintf("\tstate.Register((*%s)(nil))\n", typ))); i > initAt[0] {
				regAt = i
			}
		}
	}
	var out []byte
	out = append(out, src[:at]...)
	out = append(out, stateFuncs(pkgDir, st, m)...)
	out = append(out, src[at:regAt]...)
	out = append(out, fmt.Sprintf("\tstate.Register((*%s)(nil))\n", st.name)...)
	return append(out, src[regAt:]...), nil
}

// writeStateFields writes the StateFields method as stateify does, from its
// name to its closing brace.
func writeStateFields(b *bytes.Buffer, fields []string) {
	b.WriteString("StateFields() []string {\n\treturn []string{")
	if len(fields) > 0 {
		b.WriteString("\n")
		for _, f := range fields {
			fmt.Fprintf(b, "\t\t%q,\n", f)
		}
		b.WriteString("\t")
	}
	b.WriteString("}\n}")
}

// stateFuncs is what stateify generates for a struct of plain fields.
func stateFuncs(pkgDir string, st savableType, m pkgMethods) []byte {
	r := st.recv
	if r == "" {
		r = string(unicode.ToLower(rune(st.name[0])))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "func (%s *%s) StateTypeName() string {\n\treturn %q\n}\n\n", r, st.name, pkgDir+"."+st.name)
	fmt.Fprintf(&b, "func (%s *%s) ", r, st.name)
	writeStateFields(&b, st.fields)
	b.WriteString("\n\n")
	if !m.defined[st.name+".beforeSave"] {
		fmt.Fprintf(&b, "func (%s *%s) beforeSave() {}\n\n", r, st.name)
	}
	fmt.Fprintf(&b, "// +checklocksignore\nfunc (%s *%s) StateSave(stateSinkObject state.Sink) {\n\t%s.beforeSave()\n", r, st.name, r)
	for i, f := range st.fields {
		fmt.Fprintf(&b, "\tstateSinkObject.Save(%d, &%s.%s)\n", i, r, f)
	}
	b.WriteString("}\n\n")
	userAfterLoad := m.defined[st.name+".afterLoad"]
	if !userAfterLoad {
		fmt.Fprintf(&b, "func (%s *%s) afterLoad(context.Context) {}\n\n", r, st.name)
	}
	fmt.Fprintf(&b, "// +checklocksignore\nfunc (%s *%s) StateLoad(ctx context.Context, stateSourceObject state.Source) {\n", r, st.name)
	for i, f := range st.fields {
		fmt.Fprintf(&b, "\tstateSourceObject.Load(%d, &%s.%s)\n", i, r, f)
	}
	if userAfterLoad {
		fmt.Fprintf(&b, "\tstateSourceObject.AfterLoad(func() { %s.afterLoad(ctx) })\n", r)
	}
	b.WriteString("}\n\n")
	return b.Bytes()
}

// indexedStmt matches a statement of StateSave or StateLoad that saves or
// loads the field with the index it gives.
var indexedStmt = regexp.MustCompile(`^\tstate(?:Sink|Source)Object\.(?:Save|SaveValue|Load|LoadWait|LoadValue)\((\d+),`)

// updateStateBlock updates the state functions of an existing type, block,
// from the fields old to st.fields: the field list, and in StateSave and
// StateLoad the statements of the fields that stay (by value, waited for,
// whatever stateify made of their tags), renumbered and in their order, and
// a plain Save or Load for each new field among the plain ones, in field
// order.
func updateStateBlock(block []byte, st savableType, old []string) ([]byte, error) {
	plain := map[string]bool{}
	for _, f := range st.fields {
		plain[f] = true
	}
	for _, f := range old {
		delete(plain, f)
	}
	recv := regexp.MustCompile(`^func \((\w+) `).FindSubmatch(block)
	if recv == nil {
		return nil, fmt.Errorf("no receiver in its stateify output")
	}
	r := string(recv[1])
	var fields bytes.Buffer
	writeStateFields(&fields, st.fields)
	block = stateFieldsRE.ReplaceAllLiteral(block, fields.Bytes())
	for _, fn := range []struct{ sig, stmt string }{
		{`StateSave\(stateSinkObject state\.Sink\) \{\n`, "\tstateSinkObject.Save(%d, &%s.%s)"},
		{`StateLoad\(ctx context\.Context, stateSourceObject state\.Source\) \{\n`, "\tstateSourceObject.Load(%d, &%s.%s)"},
	} {
		re := regexp.MustCompile(`(?s)(\) ` + fn.sig + `)(.*?)(\}\n)`)
		m := re.FindSubmatchIndex(block)
		if m == nil {
			return nil, fmt.Errorf("no %s in its stateify output", fn.sig[:9])
		}
		body := string(block[m[4]:m[5]])
		type group struct {
			field string
			lines []string
			plain bool // a plain Save or Load, not by value or waited for
		}
		var (
			header, pending []string
			groups          []group
		)
		for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			if l == "" {
				continue
			}
			if strings.Contains(l, "Failf") || strings.HasPrefix(l, "\tif ") {
				return nil, fmt.Errorf("its stateify output checks a zero value, which derive does not port")
			}
			if strings.HasSuffix(l, ".beforeSave()") && len(groups) == 0 && len(pending) == 0 {
				header = append(header, l)
				continue
			}
			im := indexedStmt.FindStringSubmatchIndex(l)
			if im == nil {
				pending = append(pending, l)
				continue
			}
			i, _ := strconv.Atoi(l[im[2]:im[3]])
			if i >= len(old) {
				return nil, fmt.Errorf("its stateify output names field %d of %d", i, len(old))
			}
			isPlain := strings.Contains(l, "Object.Save(") || strings.Contains(l, "Object.Load(")
			groups = append(groups, group{field: old[i], lines: append(pending, l), plain: isPlain})
			pending = nil
		}
		// Keep stateify's order of the statements that stay (it saves the
		// fields by value first), renumbered; put each new field's after
		// the plain statement of the field before it, or before the first
		// plain statement.
		index := map[string]int{}
		for i, f := range st.fields {
			index[f] = i
		}
		var kept []group
		for _, g := range groups {
			if _, ok := index[g.field]; ok {
				kept = append(kept, g)
			}
		}
		for i, f := range st.fields {
			if !plain[f] {
				continue
			}
			g := group{field: f, lines: []string{fmt.Sprintf(fn.stmt, i, r, f)}, plain: true}
			at := -1
			for j := i - 1; j >= 0 && at < 0; j-- {
				for k, kg := range kept {
					if kg.field == st.fields[j] && kg.plain {
						at = k + 1
						break
					}
				}
			}
			if at < 0 {
				at = len(kept)
				for k, kg := range kept {
					if kg.plain {
						at = k
						break
					}
				}
			}
			kept = append(kept[:at], append([]group{g}, kept[at:]...)...)
		}
		lines := header
		for _, g := range kept {
			for _, l := range g.lines {
				if im := indexedStmt.FindStringSubmatchIndex(l); im != nil {
					l = l[:im[2]] + strconv.Itoa(index[g.field]) + l[im[3]:]
				}
				lines = append(lines, l)
			}
		}
		lines = append(lines, pending...)
		newBody := ""
		if len(lines) > 0 {
			newBody = strings.Join(lines, "\n") + "\n"
		}
		out := append([]byte{}, block[:m[4]]...)
		out = append(out, newBody...)
		block = append(out, block[m[5]:]...)
	}
	return block, nil
}
