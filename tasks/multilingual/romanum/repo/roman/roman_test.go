package roman

import "testing"

func TestFormatAdditive(t *testing.T) {
	cases := map[int]string{1: "I", 3: "III", 8: "VIII", 27: "XXVII", 3888: "MMMDCCCLXXXVIII"}
	for n, want := range cases {
		if got, _ := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatOutOfRange(t *testing.T) {
	for _, n := range []int{0, -5, 4000} {
		if _, err := Format(n); err != ErrRange {
			t.Errorf("Format(%d) error = %v, want ErrRange", n, err)
		}
	}
}

func TestParseSubtractive(t *testing.T) {
	if got, _ := Parse("MCMXCIV"); got != 1994 {
		t.Errorf("Parse(MCMXCIV) = %d, want 1994", got)
	}
}
