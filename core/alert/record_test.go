package alert

import (
	"errors"
	"strings"
	"testing"

	"emergencydesk/core/msgraph"
)

const validationRecord = `{"value":[{"subscriptionId":"NA","subscriptionExpirationDateTime":"NA","clientState":"NA","changeType":"Validation: Testing client application reachability for subscription Request-Id: 6b3c","resource":"NA","resourceData":{"@odata.type":"NA","@odata.id":"NA","id":"NA"}}]}`

const changeRecord = `{"value":[{"subscriptionId":"s1","changeType":"created","clientState":"cs","subscriptionExpirationDateTime":"2021-02-02T10:30:34.9097561-08:00","resource":"chats('19:a@unq.gbl.spaces')/messages('1612289765949')","resourceData":{"id":"1612289765949","@odata.type":"#Microsoft.Graph.chatMessage","@odata.id":"chats('19:a@unq.gbl.spaces')/messages('1612289765949')"},"tenantId":"t"},` +
	`{"subscriptionId":"s1","lifecycleEvent":"reauthorizationRequired","clientState":"cs","subscriptionExpirationDateTime":"2021-02-02T10:30:34Z","tenantId":"t"},` +
	`{"subscriptionId":"s1","clientState":"cs"}],"validationTokens":["tok"]}`

func TestParseRecord(t *testing.T) {
	nc, err := ParseRecord([]byte("\xEF\xBB\xBF  " + changeRecord + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(nc.Value) != 3 || len(nc.ValidationTokens) != 1 {
		t.Fatalf("%+v", nc)
	}
	kinds := []Kind{KindChange, KindLifecycle, KindUnknown}
	for i, k := range kinds {
		if got := Classify(nc.Value[i]); got != k {
			t.Errorf("item %d: %v, want %v", i, got, k)
		}
	}
	if !IsChange(nc.Value[0]) || !IsLifecycle(nc.Value[1]) || IsValidation(nc.Value[0]) {
		t.Error("helpers disagree with Classify")
	}
	chat, msg, err := msgraph.ChatMessageIDs(nc.Value[0].Resource)
	if err != nil || chat != "19:a@unq.gbl.spaces" || msg != "1612289765949" {
		t.Errorf("resource ids %q %q %v", chat, msg, err)
	}

	v, err := ParseRecord([]byte(validationRecord))
	if err != nil || len(v.Value) != 1 || !IsValidation(v.Value[0]) || Classify(v.Value[0]).String() != "validation" {
		t.Fatalf("validation record: %v %+v", err, v)
	}
}

func TestParseRecordErrors(t *testing.T) {
	cases := []struct {
		in   string
		want error
		says string
	}{
		{"", ErrEmpty, "empty"},
		{"   \n", ErrEmpty, "empty"},
		{"hello", ErrNotJSON, `starts "hello"`},
		{`{"value":[`, ErrNotJSON, "not JSON"},
		{"\xff\xfe{}", ErrNotJSON, "UTF-8"},
		{`[1,2]`, ErrShape, "top level must be an object"},
		{`"str"`, ErrShape, "top level"},
		{`{"values":[]}`, ErrShape, `no "value" array`},
		{`{"value":{}}`, ErrShape, "must be an array"},
		{`{"value":null}`, ErrShape, "must be an array"},
		{`{"value":[]}`, ErrEmpty, "holds no notifications"},
		{`{"value":[1]}`, ErrShape, "item 0"},
		{`{"value":[{"changeType":5}]}`, ErrShape, "item 0"},
		{`{"value":[{}],"validationTokens":"x"}`, ErrShape, "validationTokens"},
		{`{"value":[{}]} {}`, ErrNotJSON, "not JSON"},
		{"{\"value\":[{}]}" + strings.Repeat(" ", MaxRecordBytes), ErrTooLarge, "limit"},
	}
	for _, c := range cases {
		_, err := ParseRecord([]byte(c.in))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) || !strings.HasPrefix(err.Error(), "notification record: ") {
			t.Errorf("%.40q: error %v, want %v saying %q", c.in, err, c.want, c.says)
		}
	}
}

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage([]byte(`{"id":"1","chatId":"19:x","importance":"high","body":{"contentType":"html","content":"<p>hi</p>"},"from":{"user":{"id":"u","displayName":"A"}}}`))
	if err != nil || m.ID != "1" || m.From.User.DisplayName != "A" {
		t.Fatalf("%v %+v", err, m)
	}
	for in, want := range map[string]error{"": ErrEmpty, "x": ErrNotJSON, "[]": ErrShape, `{"id":""}`: ErrShape, `{"id":3}`: ErrShape} {
		if _, err := ParseMessage([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
}
