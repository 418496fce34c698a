// Package roman converts between integers and Roman numerals.
package roman

import (
	"errors"
	"strings"
)

// ErrRange is returned for numbers Roman numerals cannot write (below 1 or above 3999).
var ErrRange = errors.New("roman: number out of range 1..3999")

type numeral struct {
	value  int
	symbol string
}

var numerals = []numeral{
	{1000, "M"}, {500, "D"}, {100, "C"}, {50, "L"}, {10, "X"}, {5, "V"}, {1, "I"},
}

// Format writes n as a Roman numeral.
func Format(n int) (string, error) {
	if n < 1 || n > 3999 {
		return "", ErrRange
	}
	var out strings.Builder
	for _, num := range numerals {
		for n >= num.value {
			out.WriteString(num.symbol)
			n -= num.value
		}
	}
	return out.String(), nil
}

// Parse reads a Roman numeral.
func Parse(s string) (int, error) {
	values := map[byte]int{'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}
	total := 0
	for i := 0; i < len(s); i++ {
		value, ok := values[s[i]]
		if !ok {
			return 0, errors.New("roman: invalid symbol " + string(s[i]))
		}
		if i+1 < len(s) && values[s[i+1]] > value {
			total -= value
		} else {
			total += value
		}
	}
	return total, nil
}
