package photometa

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ImageRegion is an IPTC image region (Iptc4xmpExt:ImageRegion, IPTC
// Photo Metadata 2019.1 and later) whose role says where the picture's
// interest is: a recommended crop or its subject. Its boundary is kept as
// its bounding box in its own unit; Centre checks it against the picture.
type ImageRegion struct {
	// Role is the role's code in IPTC's image region role vocabulary
	// (http://cv.iptc.org/newscodes/imageregionrole/): one of
	// regionRoles.
	Role string
	// Shape is rectangle, circle or polygon; Unit relative (0..1 of the
	// picture's width and height) or pixel.
	Shape, Unit string
	// Left, Top, Right, Bottom bound the region, in Unit. A circle's
	// radius is in the picture's width (relative) or pixels: its vertical
	// extent in relative units needs the picture's size, so a circle keeps
	// its centre and radius.
	Left, Top, Right, Bottom float64
	CX, CY, R                float64 // a circle's
}

// regionRoles are the roles that name a picture's centre of interest, by
// preference: the recommended crop, then its subject, in IPTC's image
// region role vocabulary (code, then its English name as writers give it
// when they give no identifier).
var regionRoles = []struct{ code, name string }{
	{"recomCropping", "recommended cropping"},
	{"cropping", "cropping"},
	{"mainSubjectArea", "main subject area"},
	{"subjectArea", "subject area"},
}

const regionRoleVocab = "http://cv.iptc.org/newscodes/imageregionrole/"

// Centre is the region's centre in 0..1 of a w×h (upright) picture; an
// error when the region does not lie within the picture.
func (g *ImageRegion) Centre(w, h int) (x, y float64, err error) {
	if w <= 0 || h <= 0 {
		return 0, 0, errors.New("the picture has no size")
	}
	sx, sy := 1.0, 1.0 // units per relative unit
	if g.Unit == "pixel" {
		sx, sy = float64(w), float64(h)
	}
	l, t, r, b := g.Left, g.Top, g.Right, g.Bottom
	if g.Shape == "circle" {
		ry := g.R // a relative radius is in the width; in pixels, pixels
		if g.Unit != "pixel" {
			ry = g.R * float64(w) / float64(h)
		}
		l, t, r, b = g.CX-g.R, g.CY-ry, g.CX+g.R, g.CY+ry
	}
	// A thousandth of slack: writers round.
	const slack = 1e-3
	if l < -slack*sx || t < -slack*sy || r > (1+slack)*sx || b > (1+slack)*sy {
		return 0, 0, fmt.Errorf("its %s (%s units, %s) reaches outside the %d×%d picture", g.Shape, g.Unit, g.bounds(), w, h)
	}
	return math.Max(0, math.Min(1, (l+r)/2/sx)), math.Max(0, math.Min(1, (t+b)/2/sy)), nil
}

func (g *ImageRegion) bounds() string {
	if g.Shape == "circle" {
		return fmt.Sprintf("centre %g,%g radius %g", g.CX, g.CY, g.R)
	}
	return fmt.Sprintf("%g,%g to %g,%g", g.Left, g.Top, g.Right, g.Bottom)
}

// Element names of the region's structures, in the IPTC Extension schema.
const (
	elImageRegion    = "ImageRegion"
	elRegionBoundary = "RegionBoundary"
	elRole           = "rRole"
)

// readRegion finds the first image region of the packet whose role names
// the centre of interest (in regionRoles' order) and whose boundary can be
// read; problem says why the regions with such a role were unusable when
// none was. It is given a well-formed packet (readXMP checked it).
func readRegion(b []byte) (region *ImageRegion, problem string) {
	root, err := xmlTree(b, nsIPTCExt, "Iptc4xmpExt", elImageRegion)
	if err != nil || root == nil {
		return nil, ""
	}
	best := len(regionRoles)
	var problems []string
	for i, it := range root.items() {
		fs := it.fields()
		rank := roleRank(fs)
		if rank < 0 {
			continue
		}
		g, err := boundary(fs)
		if err != nil {
			problems = append(problems, fmt.Sprintf("region %d (%s): %v", i+1, regionRoles[rank].name, err))
			continue
		}
		if rank < best {
			g.Role, best, region = regionRoles[rank].code, rank, g
		}
	}
	if region == nil && len(problems) > 0 {
		// The first few say enough, and the note travels in object
		// metadata (a few KiB at most).
		if len(problems) > 3 {
			problems = append(problems[:3], fmt.Sprintf("%d more", len(problems)-3))
		}
		return nil, "embedded image region not used: " + strings.Join(problems, "; ")
	}
	return region, ""
}

// roleRank is the best-ranked role (index into regionRoles) the region's
// rRole entities give, by identifier or by name; -1 when none.
func roleRank(fs []*xnode) int {
	rank := -1
	for _, f := range fs {
		if !f.is(elRole) {
			continue
		}
		for _, ent := range append(f.items(), f) {
			for _, ef := range ent.fields() {
				var texts []string
				for _, v := range append(ef.items(), ef) {
					texts = append(texts, strings.TrimSpace(v.text))
				}
				for _, t := range texts {
					for i, r := range regionRoles {
						// Identifier is xmp:'s, Name Iptc4xmpExt:'s; writers differ.
						match := (ef.name.Local == "Identifier" && (t == regionRoleVocab+r.code || t == "https://cv.iptc.org/newscodes/imageregionrole/"+r.code)) ||
							(ef.name.Local == "Name" && strings.EqualFold(t, r.name))
						if match && (rank < 0 || i < rank) {
							rank = i
						}
					}
				}
			}
		}
	}
	return rank
}

// boundary reads a region's RegionBoundary.
func boundary(fs []*xnode) (*ImageRegion, error) {
	var rb *xnode
	for _, f := range fs {
		if f.is(elRegionBoundary) {
			rb = f
		}
	}
	if rb == nil {
		return nil, errors.New("no RegionBoundary")
	}
	bf := rb.fields()
	g := &ImageRegion{Shape: strings.ToLower(fieldOf(bf, "rbShape")), Unit: strings.ToLower(fieldOf(bf, "rbUnit"))}
	if g.Unit != "relative" && g.Unit != "pixel" {
		return nil, fmt.Errorf("rbUnit %q: want relative or pixel", clip(fieldOf(bf, "rbUnit"), 32))
	}
	num := func(fs []*xnode, name string) (float64, error) {
		s := fieldOf(fs, name)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s %q is not a number", name, clip(s, 32))
		}
		return v, nil
	}
	nums := func(fs []*xnode, names ...string) ([]float64, error) {
		out := make([]float64, len(names))
		for i, n := range names {
			v, err := num(fs, n)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	switch g.Shape {
	case "rectangle":
		v, err := nums(bf, "rbX", "rbY", "rbW", "rbH")
		if err != nil {
			return nil, err
		}
		if v[2] <= 0 || v[3] <= 0 {
			return nil, fmt.Errorf("rectangle of %gx%g has no area", v[2], v[3])
		}
		g.Left, g.Top, g.Right, g.Bottom = v[0], v[1], v[0]+v[2], v[1]+v[3]
	case "circle":
		v, err := nums(bf, "rbX", "rbY", "rbRx")
		if err != nil {
			return nil, err
		}
		if v[2] <= 0 {
			return nil, fmt.Errorf("circle of radius %g", v[2])
		}
		g.CX, g.CY, g.R = v[0], v[1], v[2]
	case "polygon":
		var vs []*xnode
		for _, f := range bf {
			if f.is("rbVertices") {
				vs = f.items()
			}
		}
		if len(vs) < 3 {
			return nil, fmt.Errorf("polygon of %d vertices", len(vs))
		}
		g.Left, g.Top, g.Right, g.Bottom = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, vx := range vs {
			p, err := nums(vx.fields(), "rbX", "rbY")
			if err != nil {
				return nil, fmt.Errorf("vertex: %v", err)
			}
			g.Left, g.Right = math.Min(g.Left, p[0]), math.Max(g.Right, p[0])
			g.Top, g.Bottom = math.Min(g.Top, p[1]), math.Max(g.Bottom, p[1])
		}
	default:
		return nil, fmt.Errorf("rbShape %q: want rectangle, circle or polygon", clip(fieldOf(bf, "rbShape"), 32))
	}
	return g, nil
}

// fieldOf is the trimmed text of the IPTC Extension field name in fs.
func fieldOf(fs []*xnode, name string) string {
	for _, f := range fs {
		if f.is(name) {
			return strings.TrimSpace(f.text)
		}
	}
	return ""
}

// xnode is an element (or an attribute, as RDF's shorthand gives struct
// fields) of an XMP subtree: enough of a tree for the nested structures
// of image regions, which scanXMP flattens.
type xnode struct {
	name     xml.Name
	text     string
	children []*xnode
}

// is says n is the IPTC Extension property local.
func (n *xnode) is(local string) bool { return isName(n.name, nsIPTCExt, "Iptc4xmpExt", local) }

func (n *xnode) rdf(local string) bool { return isName(n.name, nsRDF, "rdf", local) }

// items are the rdf:li entries of the container (rdf:Bag, rdf:Seq,
// rdf:Alt) n holds.
func (n *xnode) items() []*xnode {
	var out []*xnode
	for _, c := range n.children {
		if c.rdf("Bag") || c.rdf("Seq") || c.rdf("Alt") {
			for _, li := range c.children {
				if li.rdf("li") {
					out = append(out, li)
				}
			}
		}
	}
	return out
}

// fields are the fields of the struct n is, in any of RDF's forms:
// rdf:parseType="Resource" (its children), a nested rdf:Description, or
// attributes (children too, here).
func (n *xnode) fields() []*xnode {
	var out []*xnode
	for _, c := range n.children {
		switch {
		case c.rdf("Description"):
			out = append(out, c.fields()...)
		case c.name.Space == nsRDF || c.name.Space == "rdf":
		default:
			out = append(out, c)
		}
	}
	return out
}

// maxRegionNodes bounds the subtree read (its elements and attributes): a
// packet is at most maxXMP bytes, and real region lists are a few dozen.
const maxRegionNodes = 10000

// xmlTree is the subtree of the first element ns:local (or prefix:local)
// in the packet; nil when there is none.
func xmlTree(b []byte, ns, prefix, local string) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []*xnode
	var root *xnode
	nodes := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == nil && !isName(t.Name, ns, prefix, local) {
				continue
			}
			if len(stack) > maxXMPDepth || nodes > maxRegionNodes {
				return nil, errors.New("image regions nested too deep or too many")
			}
			n := &xnode{name: t.Name}
			for _, a := range t.Attr {
				switch a.Name.Space {
				case nsRDF, "rdf", nsXML, "xml", "xmlns", "":
					continue
				}
				n.children = append(n.children, &xnode{name: a.Name, text: a.Value})
			}
			nodes += 1 + len(n.children)
			if root == nil {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				continue
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, nil
			}
		case xml.CharData:
			// Values are short; a capped text keeps a packet of text split
			// by comments from costing quadratic time.
			if n := len(stack); n > 0 && len(stack[n-1].text) < 1024 {
				stack[n-1].text += string(t)
			}
		}
	}
}
