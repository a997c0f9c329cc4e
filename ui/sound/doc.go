// Package sound plays the embedded alarm (looped until stopped) and the
// test chime through oto; without an audio device it logs once and stays
// silent, so the visual alarm is never held up.
package sound
