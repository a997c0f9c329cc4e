package store

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emergencydesk/core/alert"
)

const crashChildEnv = "EMERGENCYDESK_STORE_CRASH_CHILD"

// crashChild is the process the crash test kills: it appends alerts for
// offsets next..next+k-1 of a random partition together with the new next
// offset, forever. Alert ids encode partition and offset so the parent can
// check that the offsets never ran ahead of (or behind) the alerts.
func crashChild(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	next, err := s.LoadOffsets(ctx, "hub")
	if err != nil {
		fmt.Println("load:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	for {
		p := int32(rnd.Intn(3))
		k := 1 + rnd.Intn(20)
		var batch []alert.Alert
		for i := 0; i < k; i++ {
			batch = append(batch, sample(fmt.Sprintf("p%d-o%d", p, next[p]+int64(i)), t0))
		}
		if next[p] > 0 && rnd.Intn(4) == 0 {
			batch = append(batch, sample(fmt.Sprintf("p%d-o%d", p, rnd.Int63n(next[p])), t0)) // a redelivery
		}
		n := next[p] + int64(k)
		if _, err := s.InsertAlertsAndOffsets(ctx, batch, "hub", map[int32]int64{p: n}); err != nil {
			fmt.Println("insert:", err)
			os.Exit(2)
		}
		next[p] = n
	}
}

func TestCrashSafetyKill9(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	path := filepath.Join(t.TempDir(), "alerts.db")
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	var prevTotal int64
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafetyKill9$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %q", line)
		}
		time.Sleep(time.Duration(30+rnd.Intn(250)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		s, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		var integrity string
		if err := s.db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
			t.Fatalf("round %d: integrity_check: %q %v", round, integrity, err)
		}
		next, err := s.LoadOffsets(ctx, "hub")
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for p := int32(0); p < 3; p++ {
			var count, maxOff int64
			err := s.db.QueryRow(`SELECT count(*), coalesce(max(CAST(substr(id, 5) AS INTEGER)), -1) FROM alerts WHERE id LIKE ?`,
				fmt.Sprintf("p%d-o%%", p)).Scan(&count, &maxOff)
			if err != nil {
				t.Fatal(err)
			}
			// Every committed offset has its alert, and no alert exists past
			// the committed offset: count == next and ids are 0..next-1.
			if count != next[p] || maxOff != next[p]-1 {
				t.Fatalf("round %d partition %d: next offset %d but %d alerts (max offset %d)", round, p, next[p], count, maxOff)
			}
			total += count
		}
		if total <= prevTotal {
			t.Fatalf("round %d: no progress (%d alerts, %d before): the child did not write", round, total, prevTotal)
		}
		t.Logf("round %d: killed after %d alerts committed", round, total)
		prevTotal = total
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
