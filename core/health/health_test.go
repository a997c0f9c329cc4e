package health

import (
	"strings"
	"testing"
)

func TestOverallIsTheWorstWithReasons(t *testing.T) {
	var got []Overall
	b := NewBoard(func(o Overall) { got = append(got, o) })
	if o := b.Overall(); o.Level != Unconfigured {
		t.Fatalf("empty board: %v", o.Level)
	}
	b.Set(Component{Key: "eventhub", Kind: "eventhub", Label: "Event Hub", Level: OK, State: "connected"})
	b.Set(Component{Key: "token/u1", Kind: "token", Label: "Token: desk@contoso.com", Level: Degraded, State: "expiring_soon", Summary: "refresh token expires in 2 h"})
	if o := b.Overall(); o.Level != Degraded || !strings.Contains(o.Reason, "expires in 2 h") {
		t.Fatalf("degraded: %+v", o)
	}
	b.Set(Component{Key: "token/u1", Kind: "token", Label: "Token: desk@contoso.com", Level: Broken, State: "reauth_required", Summary: "sign in again"})
	b.Set(Component{Key: "token/u1", Kind: "token", Label: "Token: desk@contoso.com", Level: Broken, State: "reauth_required", Summary: "sign in again"})
	if len(got) != 3 {
		t.Fatalf("want 3 change reports (no duplicate), got %d", len(got))
	}
	if o := b.Overall(); o.Level != Broken || o.Reason != "Token: desk@contoso.com: sign in again" {
		t.Fatalf("broken: %+v", o)
	}
	b.Remove("token/u1")
	b.Set(Component{Key: "users", Kind: "token", Label: "Monitoring users", Level: Unconfigured, State: "none", Summary: "no monitoring user is signed in"})
	if o := b.Overall(); o.Level != Unconfigured || !strings.Contains(o.Reason, "no monitoring user") {
		t.Fatalf("a part not set up must grey the chain, not leave it green: %+v", o)
	}
	b.Remove("users")
	if o := b.Overall(); o.Level != OK || o.Reason != "All links healthy" {
		t.Fatalf("after remove: %+v", o)
	}
}
