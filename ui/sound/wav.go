package sound

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PCM is decoded 16-bit little-endian PCM.
type PCM struct {
	SampleRate int
	Channels   int
	Data       []byte
}

// ParseWAV reads a 16-bit PCM RIFF/WAVE file.
func ParseWAV(b []byte) (PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return PCM{}, errors.New("not a RIFF/WAVE file")
	}
	var p PCM
	var haveFmt bool
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		n := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		if n < 0 || body+n > len(b) {
			n = len(b) - body
		}
		switch id {
		case "fmt ":
			if n < 16 {
				return PCM{}, errors.New("short fmt chunk")
			}
			format := binary.LittleEndian.Uint16(b[body:])
			p.Channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			p.SampleRate = int(binary.LittleEndian.Uint32(b[body+4:]))
			bits := binary.LittleEndian.Uint16(b[body+14:])
			if format != 1 || bits != 16 {
				return PCM{}, fmt.Errorf("unsupported WAV encoding (format %d, %d bits): want 16-bit PCM", format, bits)
			}
			haveFmt = true
		case "data":
			p.Data = b[body : body+n]
		}
		off = body + n + n%2
	}
	if !haveFmt || p.Data == nil || p.Channels < 1 || p.SampleRate <= 0 {
		return PCM{}, errors.New("WAV file lacks a fmt or data chunk")
	}
	return p, nil
}

// loop is an endless reader over pcm.
type loop struct {
	data []byte
	off  int
}

func (l *loop) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}
