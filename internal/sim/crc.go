package sim

// crc16 is the CRC of an RTU frame: polynomial 0xA001 (0x8005 reflected),
// preset 0xFFFF, as Modbus over Serial Line V1.02 §6.2.2 computes it. The
// frame carries it low byte first (§2.5.1.2).
func crc16(data []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range data {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// appendCRC appends the CRC of frame to it, low byte first.
func appendCRC(frame []byte) []byte {
	crc := crc16(frame)
	return append(frame, byte(crc), byte(crc>>8))
}

// crcOK reports whether frame ends with the right CRC of what precedes it.
func crcOK(frame []byte) bool {
	if len(frame) < 3 {
		return false
	}
	n := len(frame) - 2
	crc := crc16(frame[:n])
	return frame[n] == byte(crc) && frame[n+1] == byte(crc>>8)
}
