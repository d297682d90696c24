package main

import "encoding/binary"

// maxPacket bounds the packet size, well under the default AF_UNIX socket
// buffer so a send never blocks.
const maxPacket = 4096

// packet returns the content of packet number round. Its length varies
// with round (runc's sync messages are JSON of varying size), its first 8
// bytes are round in little-endian order and the rest is a pattern that
// depends on both round and position, so a packet from another round, a
// shifted packet or a truncated one is always caught.
func packet(round int64) []byte {
	n := 8 + int(uint64(round)*7919%uint64(maxPacket-8))
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, uint64(round))
	for i := 8; i < n; i++ {
		b[i] = byte(uint64(round)*31 + uint64(i)*7 + 1)
	}
	return b
}

// wrongBytes counts the bytes of got that differ from want, plus the
// difference in length.
func wrongBytes(got, want []byte) int64 {
	n := min(len(got), len(want))
	var bad int64
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			bad++
		}
	}
	bad += int64(max(len(got), len(want)) - n)
	return bad
}

// handshakeByte is the one byte that FIFO round round carries. It is never
// zero, so a read of a zeroed buffer is caught.
func handshakeByte(round int64) byte { return byte(uint64(round)%251 + 1) }
