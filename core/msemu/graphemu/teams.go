package graphemu

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"emergencydesk/core/msgraph"
)

// DefaultEmergencyHTML words the Teams emergency notification as the
// contracts' best evidence suggests (§5).
func DefaultEmergencyHTML(callerName, dialedNumber, location string) string {
	return fmt.Sprintf("<p><strong>%s</strong> has placed an Emergency Call to %s.</p><p>Location: %s</p>",
		html.EscapeString(callerName), html.EscapeString(dialedNumber), html.EscapeString(location))
}

// MessageOptions tune PostMessage.
type MessageOptions struct {
	Importance  string // normal (default), high, urgent
	ContentType string // html (default) or text
	ReplyToID   string
}

// ChatWith returns the chat between exactly these members, creating it
// (oneOnOne for two members, group otherwise).
func (s *Server) ChatWith(members ...User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chatLocked(members, false)
}

func (s *Server) chatLocked(members []User, group bool) string {
	ids := make([]string, 0, len(members))
	for _, m := range members {
		if _, ok := s.users[m.ID]; !ok {
			s.users[m.ID] = m
		}
		if !contains(ids, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	sort.Strings(ids)
	for _, id := range s.chatOrder {
		ch := s.chats[id]
		if (ch.ChatType == "group" || !group) && ch.ChatType != "meeting" && equalSets(ch.members, ids) {
			return id
		}
	}
	now := s.now().UTC()
	var id, typ string
	if len(ids) == 2 && !group {
		id, typ = "19:"+ids[0]+"_"+ids[1]+"@unq.gbl.spaces", "oneOnOne"
	} else {
		b := make([]byte, 16)
		rand.Read(b)
		id, typ = "19:"+hex.EncodeToString(b)+"@thread.v2", "group"
	}
	ch := &chat{members: ids}
	ch.ID, ch.ChatType = id, typ
	ch.CreatedDateTime = now.Format(time.RFC3339Nano)
	ch.LastUpdatedDateTime = ch.CreatedDateTime
	ch.WebURL = "https://teams.microsoft.com/l/chat/" + url.PathEscape(id) + "/0?tenantId=" + s.opts.TenantID
	s.chats[id] = ch
	s.chatOrder = append(s.chatOrder, id)
	return id
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// PostEmergencyCall does what Teams does when caller dials an emergency
// number under a notification policy: starts (or reuses) a group chat
// between the caller and the monitored users and posts an important message
// sent as the caller. Notifications go to every covering subscription.
func (s *Server) PostEmergencyCall(caller User, dialedNumber, location string) (chatID, msgID string, err error) {
	s.mu.Lock()
	members := []User{caller}
	for _, id := range s.monitored {
		u, ok := s.users[id]
		if !ok {
			u = User{ID: id}
		}
		members = append(members, u)
	}
	if len(members) < 2 {
		s.mu.Unlock()
		return "", "", fmt.Errorf("graphemu: no monitored users: call SetMonitored first")
	}
	// Teams always uses a group chat for the notification, even with one
	// desk member.
	chatID = s.chatLocked(members, true)
	s.mu.Unlock()
	content := s.opts.EmergencyHTML(caller.DisplayName, dialedNumber, location)
	msgID, err = s.PostMessage(context.Background(), chatID, caller, content, MessageOptions{Importance: "high"})
	return chatID, msgID, err
}

// PostMessage posts content in chatID as from and delivers the change
// notifications.
func (s *Server) PostMessage(ctx context.Context, chatID string, from User, content string, o MessageOptions) (string, error) {
	if o.Importance == "" {
		o.Importance = "normal"
	}
	if o.ContentType == "" {
		o.ContentType = "html"
	}
	s.mu.Lock()
	ch, ok := s.chats[chatID]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("graphemu: no chat %q", chatID)
	}
	if !contains(ch.members, from.ID) {
		s.mu.Unlock()
		return "", fmt.Errorf("graphemu: %s is not a member of chat %q", from.ID, chatID)
	}
	now := s.now().UTC()
	id := now.UnixMilli()
	if id <= s.lastMsgID {
		id = s.lastMsgID + 1
	}
	s.lastMsgID = id
	msgID := strconv.FormatInt(id, 10)
	created := now.Format("2006-01-02T15:04:05.000Z")
	m := msgraph.ChatMessage{
		ID: msgID, ReplyToID: o.ReplyToID, ETag: msgID, MessageType: "message",
		CreatedDateTime: created, LastModifiedDateTime: created,
		ChatID: chatID, Importance: o.Importance, Locale: "en-us",
		WebURL: "https://teams.microsoft.com/l/message/" + url.PathEscape(chatID) + "/" + msgID + "?context=%7B%22contextType%22%3A%22chat%22%7D",
		From: &msgraph.From{User: &msgraph.UserIdentity{
			ODataType: "#microsoft.graph.teamworkUserIdentity", ID: from.ID, DisplayName: from.DisplayName,
			UserIdentityType: "aadUser", TenantID: s.opts.TenantID,
		}},
		Body:        msgraph.ItemBody{ContentType: o.ContentType, Content: content},
		Attachments: []msgraph.Attachment{}, Mentions: []msgraph.Mention{}, Reactions: []any{},
	}
	ch.messages = append(ch.messages, m)
	ch.LastUpdatedDateTime = created
	s.purgeLocked()
	var targets []*subscription
	for _, sub := range s.subs {
		if covers(sub, ch) {
			targets = append(targets, sub)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].ID < targets[j].ID })
	s.mu.Unlock()
	for _, sub := range targets {
		n, err := s.notification(sub, m)
		if err != nil {
			return msgID, err
		}
		if err := s.publish(ctx, sub.ID, msgraph.NotificationCollection{Value: []msgraph.ChangeNotification{n}}); err != nil {
			return msgID, err
		}
	}
	return msgID, nil
}

func covers(sub *subscription, ch *chat) bool {
	if !strings.Contains(","+strings.ReplaceAll(sub.ChangeType, " ", "")+",", ",created,") {
		return false
	}
	if m := ownChatsRE.FindStringSubmatch(sub.Resource); m != nil {
		return contains(ch.members, m[1])
	}
	if m := oneChatRE.FindStringSubmatch(sub.Resource); m != nil {
		return m[1] == ch.ID
	}
	return false
}

// notification builds the change notification Graph would write for m.
func (s *Server) notification(sub *subscription, m msgraph.ChatMessage) (msgraph.ChangeNotification, error) {
	res := fmt.Sprintf("chats('%s')/messages('%s')", m.ChatID, m.ID)
	n := msgraph.ChangeNotification{
		SubscriptionID:                 sub.ID,
		ChangeType:                     "created",
		ClientState:                    sub.ClientState,
		SubscriptionExpirationDateTime: graphTime(sub.expires),
		Resource:                       res,
		ResourceData:                   &msgraph.ResourceData{ID: m.ID, ODataType: "#Microsoft.Graph.chatMessage", ODataID: res},
		TenantID:                       s.opts.TenantID,
	}
	if sub.IncludeResourceData && sub.cert != nil {
		plain, err := json.Marshal(m)
		if err != nil {
			return n, err
		}
		ec, err := Encrypt(plain, sub.cert.pub, sub.cert.id, sub.cert.thumbprint)
		if err != nil {
			return n, err
		}
		n.EncryptedContent = ec
	}
	return n, nil
}

// Encrypt seals plain as Graph does for rich notifications: a random
// 32-byte key wrapped with RSA-OAEP (SHA-1), AES-256-CBC with IV = key[:16]
// and PKCS7 padding, HMAC-SHA256 over the ciphertext; all base64.
func Encrypt(plain []byte, pub *rsa.PublicKey, certID, thumbprint string) (*msgraph.EncryptedContent, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(key)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(append([]byte(nil), plain...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(buf, buf)
	mac := hmac.New(sha256.New, key)
	mac.Write(buf)
	return &msgraph.EncryptedContent{
		Data:                            base64.StdEncoding.EncodeToString(buf),
		DataKey:                         base64.StdEncoding.EncodeToString(wrapped),
		DataSignature:                   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		EncryptionCertificateID:         certID,
		EncryptionCertificateThumbprint: thumbprint,
	}, nil
}

// Messages returns a copy of a chat's messages (oldest first).
func (s *Server) Messages(chatID string) []msgraph.ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.chats[chatID]; ok {
		return append([]msgraph.ChatMessage(nil), ch.messages...)
	}
	return nil
}

func (s *Server) listChats(w http.ResponseWriter, r *http.Request, c caller) {
	uid := c.Oid
	if p := r.PathValue("uid"); p != "" && !strings.EqualFold(p, c.Oid) && !strings.EqualFold(p, c.PreferredUsername) {
		writeError(w, s.now(), http.StatusForbidden, "Forbidden", "Requested user does not match the signed-in user: delegated tokens can only list their own chats.")
		return
	}
	s.mu.Lock()
	var all []msgraph.Chat
	for _, id := range s.chatOrder {
		ch := s.chats[id]
		if contains(ch.members, uid) {
			all = append(all, ch.Chat)
		}
	}
	s.mu.Unlock()
	sort.SliceStable(all, func(i, j int) bool { return all[i].LastUpdatedDateTime > all[j].LastUpdatedDateTime })
	page(w, r, s.now(), all, 50, "chats")
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.now()
	s.mu.Lock()
	ch, ok := s.chats[r.PathValue("chat")]
	var msgs []msgraph.ChatMessage
	if ok && contains(ch.members, c.Oid) {
		msgs = append(msgs, ch.messages...)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, now, http.StatusNotFound, "NotFound", "Chat '"+r.PathValue("chat")+"' was not found.")
		return
	}
	if msgs == nil && !contains(ch.members, c.Oid) {
		writeError(w, now, http.StatusForbidden, "Forbidden", "Forbidden: the caller is not a member of this chat.")
		return
	}
	q := r.URL.Query()
	asc := strings.EqualFold(strings.TrimSpace(q.Get("$orderby")), "createdDateTime asc")
	if f := q.Get("$filter"); f != "" {
		// Graph supports createdDateTime gt/lt filters on chat messages.
		field, rest, _ := strings.Cut(strings.TrimSpace(f), " ")
		op, val, _ := strings.Cut(strings.TrimSpace(rest), " ")
		t, err := time.Parse(time.RFC3339Nano, strings.Trim(val, "'"))
		if field != "createdDateTime" || (op != "gt" && op != "lt") || err != nil {
			writeError(w, now, http.StatusBadRequest, "BadRequest", "Invalid filter clause: only createdDateTime gt|lt <dateTime> is supported.")
			return
		}
		var keep []msgraph.ChatMessage
		for _, m := range msgs {
			mt, _ := time.Parse(time.RFC3339Nano, m.CreatedDateTime)
			if (op == "gt" && mt.After(t)) || (op == "lt" && mt.Before(t)) {
				keep = append(keep, m)
			}
		}
		msgs = keep
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if asc {
			return msgs[i].CreatedDateTime < msgs[j].CreatedDateTime
		}
		return msgs[i].CreatedDateTime > msgs[j].CreatedDateTime
	})
	page(w, r, now, msgs, 50, "chats('"+ch.ID+"')/messages")
}

// page writes one page of items with $top / $skiptoken and @odata.nextLink.
func page[T any](w http.ResponseWriter, r *http.Request, now time.Time, items []T, maxTop int, ctx string) {
	q := r.URL.Query()
	top := maxTop
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, now, http.StatusBadRequest, "BadRequest", "Invalid value for $top: it must be a positive integer.")
			return
		}
		if n > maxTop {
			writeError(w, now, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and %d inclusive.", n, maxTop))
			return
		}
		top = n
	}
	skip := 0
	if v := q.Get("$skiptoken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, now, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
		skip = n
	}
	if skip > len(items) {
		skip = len(items)
	}
	end := min(skip+top, len(items))
	out := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + ctx, "@odata.count": end - skip}
	vals := items[skip:end]
	if vals == nil {
		vals = []T{}
	}
	out["value"] = vals
	if end < len(items) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$top", strconv.Itoa(top))
		nq.Set("$skiptoken", strconv.Itoa(end))
		out["@odata.nextLink"] = "https://" + r.Host + r.URL.Path + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.now()
	chatID, msgID := r.PathValue("chat"), r.PathValue("msg")
	s.mu.Lock()
	ch, ok := s.chats[chatID]
	if !ok {
		s.mu.Unlock()
		writeError(w, now, http.StatusNotFound, "NotFound", "Chat '"+chatID+"' was not found.")
		return
	}
	if !contains(ch.members, c.Oid) {
		s.mu.Unlock()
		writeError(w, now, http.StatusForbidden, "Forbidden", "Forbidden: the caller is not a member of this chat.")
		return
	}
	// 1 request per second per chat per app per tenant.
	key := c.app + "|" + chatID
	if last, ok := s.lastRead[key]; ok && s.opts.ChatReadInterval > 0 && now.Sub(last) < s.opts.ChatReadInterval {
		s.mu.Unlock()
		wait := s.opts.ChatReadInterval - now.Sub(last)
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeError(w, now, http.StatusTooManyRequests, "TooManyRequests", "Too many requests: reading chat messages is limited to 1 request per second per chat.")
		return
	}
	s.lastRead[key] = now
	var found *msgraph.ChatMessage
	for i := range ch.messages {
		if ch.messages[i].ID == msgID {
			m := ch.messages[i]
			found = &m
		}
	}
	s.mu.Unlock()
	if found == nil {
		writeError(w, now, http.StatusNotFound, "NotFound", "Message '"+msgID+"' was not found in chat '"+chatID+"'.")
		return
	}
	data, _ := json.Marshal(found)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#chats('" + chatID + "')/messages/$entity"
	writeJSON(w, http.StatusOK, m)
}
