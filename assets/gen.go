//go:build ignore

// gen draws the tray and app icons and synthesises the alarm sounds, so
// the committed assets can be rebuilt: go run assets/gen.go
package main

import (
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

func main() {
	states := map[string]color.RGBA{
		"tray-healthy.png":      {0x2e, 0x9e, 0x4f, 0xff},
		"tray-degraded.png":     {0xf0, 0xa2, 0x02, 0xff},
		"tray-broken.png":       {0xd3, 0x2f, 0x2f, 0xff},
		"tray-alerting.png":     {0xff, 0x10, 0x10, 0xff},
		"tray-alerting-dim.png": {0x70, 0x10, 0x10, 0xff},
		"tray-unconfigured.png": {0x8a, 0x8a, 0x8a, 0xff},
	}
	for name, c := range states {
		writePNG(name, icon(64, c))
	}
	writePNG("icon.png", icon(256, color.RGBA{0xd3, 0x2f, 0x2f, 0xff}))
	writeWAV("alarm.wav", siren(2.0))
	writeWAV("test-chime.wav", chime())
}

// icon draws a filled disc with a white cross (a "help" sign).
func icon(n int, c color.RGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	r := float64(n)/2 - 1
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := float64(x)+0.5-float64(n)/2, float64(y)+0.5-float64(n)/2
			d := math.Hypot(dx, dy)
			a := math.Max(0, math.Min(1, r-d+0.5))
			if a == 0 {
				continue
			}
			px := c
			arm, len := float64(n)*0.11, float64(n)*0.30
			if (math.Abs(dx) < arm && math.Abs(dy) < len) || (math.Abs(dy) < arm && math.Abs(dx) < len) {
				px = color.RGBA{0xff, 0xff, 0xff, 0xff}
			}
			px.A = uint8(a * 255)
			img.SetNRGBA(x, y, color.NRGBA{px.R, px.G, px.B, px.A})
		}
	}
	return img
}

func writePNG(name string, img image.Image) {
	f, err := os.Create("assets/" + name)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		panic(err)
	}
}

const rate = 22050

// siren is a two-tone (960/770 Hz) alarm, one loop of secs seconds.
func siren(secs float64) []int16 {
	n := int(secs * rate)
	out := make([]int16, n)
	phase := 0.0
	for i := range out {
		t := float64(i) / rate
		f := 960.0
		if math.Mod(t, 0.5) >= 0.25 {
			f = 770
		}
		phase += 2 * math.Pi * f / rate
		out[i] = int16(0.6 * 32767 * math.Sin(phase))
	}
	return out
}

// chime is three soft rising tones for test calls.
func chime() []int16 {
	var out []int16
	for _, f := range []float64{660, 880, 990} {
		for i := 0; i < rate/4; i++ {
			env := math.Exp(-float64(i) / (rate / 10))
			out = append(out, int16(0.5*32767*env*math.Sin(2*math.Pi*f*float64(i)/rate)))
		}
	}
	return out
}

func writeWAV(name string, s []int16) {
	f, err := os.Create("assets/" + name)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	w := func(v any) { binary.Write(f, binary.LittleEndian, v) }
	f.WriteString("RIFF")
	w(uint32(36 + 2*len(s)))
	f.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(1))
	w(uint32(rate))
	w(uint32(rate * 2))
	w(uint16(2))
	w(uint16(16))
	f.WriteString("data")
	w(uint32(2 * len(s)))
	w(s)
}
