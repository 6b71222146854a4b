package firmware

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a numeric firmware version, major.minor.patch.
type Version struct {
	Major, Minor, Patch uint32
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// IsZero reports whether v is 0.0.0, which stands for "nothing pinned" or
// "unknown".
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or 1.
func (v Version) Compare(o Version) int {
	for _, d := range [][2]uint32{{v.Major, o.Major}, {v.Minor, o.Minor}, {v.Patch, o.Patch}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// ErrVersion is returned for a string with no version number in it.
var ErrVersion = errors.New("firmware: no version number")

// ParseVersion finds the first dotted number ("N.N" or "N.N.N") in s, or
// failing that the first number, so vendor strings such as "V2.1",
// "R503_v1.4.2 build 7" and "1.0.0" all parse. Missing parts are zero.
func ParseVersion(s string) (Version, error) {
	if len(s) > 64 {
		return Version{}, fmt.Errorf("%w: version string too long", ErrVersion)
	}
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return Version{}, fmt.Errorf("%w in %q", ErrVersion, s)
	}
	if d := firstDotted(s); d >= 0 {
		i = d
	}
	s = s[i:]
	var parts [3]uint32
	for k := 0; k < 3; k++ {
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 0 {
			break
		}
		n, err := strconv.ParseUint(s[:j], 10, 32)
		if err != nil {
			return Version{}, fmt.Errorf("%w: %q: %v", ErrVersion, s[:j], err)
		}
		parts[k] = uint32(n)
		s = s[j:]
		if len(s) < 2 || s[0] != '.' || s[1] < '0' || s[1] > '9' {
			break
		}
		s = s[1:]
	}
	return Version{parts[0], parts[1], parts[2]}, nil
}

// firstDotted returns where the first digit run followed by '.' and a
// digit starts, or -1.
func firstDotted(s string) int {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || (i > 0 && isDigit(s[i-1])) {
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			return i
		}
	}
	return -1
}

// MustParseVersion is ParseVersion for constants; it panics on error.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}
