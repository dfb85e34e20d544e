package runlog

import (
	"strings"
	"unicode/utf8"
)

// MaskSplit masks text, the next piece of a log that arrives in pieces (a
// remote worker's log requests), and holds back its end when that end may
// be the beginning of a secret the next piece completes. masked is safe to
// store; held is raw and must be put before the next piece (or masked on
// its own when no piece follows). Masking each piece alone would miss a
// secret split across two of them.
//
// Nothing is held when text ends a line (a piece that ends with a newline
// is what a line-oriented worker sends), so that a live log shows every
// whole line at once; otherwise the held part is the end of the last line,
// at most the longest pattern's length less one byte, so it stays small
// whatever a worker sends. A secret that itself spans lines and is split
// exactly at one of its line ends is masked line by line, as any line of a
// multi-line secret is (lines of at least 8 bytes).
func (m *Masker) MaskSplit(text string) (masked, held string) {
	if !m.active() || text == "" || strings.HasSuffix(text, "\n") {
		return m.Mask(text), ""
	}
	cut := max(len(text)-(m.maxLen-1), strings.LastIndexByte(text, '\n')+1, 0)
	for cut > 0 && cut < len(text) && !utf8.RuneStart(text[cut]) {
		cut-- // never split a character
	}
	cut = m.extendAcross([]byte(text), cut) // a whole secret stays on one side
	return m.Mask(text[:cut]), text[cut:]
}
