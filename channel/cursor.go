package channel

import (
	"encoding/base64"
	"encoding/binary"
)

// A cursor is the position of every channel of a multiplexed stream (SPEC
// 3.8), sent as the stream's `id:` and given back as Last-Event-ID or
// ?cursor= to resume every channel at once. Encoding:
//
//	"1" base64url( slot slot ... )     no padding
//	slot = FNV-1a-32(channel name) [4 bytes] | position [8 bytes, big-endian]
//
// A slot is 12 bytes, so it is exactly 16 characters wherever it sits and
// one channel's position is updated by re-encoding its 16 characters in
// place. Characters: [A-Za-z0-9_-] after the version "1". Size: 1 + 16 per
// channel: 17 for 1 channel, 129 for 8, 513 for 32 (every slot has the
// same size: typical is worst case). A position is the id of the last event
// of that channel the client holds. A cursor is matched to channels by
// name hash, so a cursor made for another set of channels resumes those it
// covers; two channels of one stream whose names hash alike (a chance of
// about 1 in 8 million for 32 channels) share a position, which can only
// make the later one look newer, never skip an event unannounced: at worst
// it resumes with a reset.
type Cursor struct {
	b    []byte   // the encoded cursor
	hash []uint32 // immutable: each channel's name hash
}

const (
	cursorVersion = '1'
	slotBytes     = 12
	slotChars     = 16
)

// NewCursor returns a cursor for channels names, every position 0.
func NewCursor(names []string) *Cursor {
	c := &Cursor{b: make([]byte, 1+slotChars*len(names)), hash: make([]uint32, len(names))}
	c.b[0] = cursorVersion
	for i, n := range names {
		c.hash[i] = nameHash(n)
		c.Set(i, 0)
	}
	return c
}

// Set makes the position of channel i pos. It does not allocate.
func (c *Cursor) Set(i int, pos uint64) {
	var raw [slotBytes]byte
	binary.BigEndian.PutUint32(raw[:4], c.hash[i])
	binary.BigEndian.PutUint64(raw[4:], pos)
	base64.RawURLEncoding.Encode(c.b[1+slotChars*i:], raw[:])
}

// Bytes returns the encoded cursor; it changes with Set.
func (c *Cursor) Bytes() []byte { return c.b }

// ParseCursor returns the position of each of names that cursor s covers
// (has[i] false: no position, the channel starts fresh). A cursor that
// does not parse covers nothing.
func ParseCursor(s []byte, names []string) (pos []uint64, has []bool) {
	pos, has = make([]uint64, len(names)), make([]bool, len(names))
	if len(s) < 1+slotChars || s[0] != cursorVersion || (len(s)-1)%slotChars != 0 {
		return pos, has
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(s)-1))
	if n, err := base64.RawURLEncoding.Strict().Decode(raw, s[1:]); err != nil || n%slotBytes != 0 {
		return pos, has
	}
	at := make(map[uint32]uint64, len(raw)/slotBytes)
	for i := 0; i+slotBytes <= len(raw); i += slotBytes {
		at[binary.BigEndian.Uint32(raw[i:])] = binary.BigEndian.Uint64(raw[i+4:])
	}
	for i, n := range names {
		pos[i], has[i] = at[nameHash(n)]
	}
	return pos, has
}

// nameHash is FNV-1a, 32 bits.
func nameHash(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return h
}
