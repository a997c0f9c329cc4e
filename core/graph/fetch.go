package graph

import (
	"container/list"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"emergencydesk/core/msgraph"
)

// Errors of Resolve for records that carry no message.
var (
	ErrClientState = errors.New("graph: notification clientState does not match this desk's subscription; dropped as suspicious")
	ErrValidation  = errors.New("graph: hub reachability (validation) record; ignore it")
	ErrLifecycle   = errors.New("graph: lifecycle notification; pass it to HandleLifecycle")
)

// msgCache remembers fetched messages by id and joins concurrent fetches
// of one message into a single request.
type msgCache struct {
	mu    sync.Mutex
	max   int
	items map[string]*cacheEntry
	order *list.List
}

type cacheEntry struct {
	done chan struct{}
	m    *msgraph.ChatMessage
	err  error
	el   *list.Element
}

func newMsgCache(max int) *msgCache {
	return &msgCache{max: max, items: map[string]*cacheEntry{}, order: list.New()}
}

func cacheKey(chatID, msgID string) string { return chatID + "\x00" + msgID }

func (mc *msgCache) put(key string, m *msgraph.ChatMessage) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if _, ok := mc.items[key]; ok {
		return
	}
	e := &cacheEntry{done: make(chan struct{}), m: m}
	close(e.done)
	mc.addLocked(key, e)
}

func (mc *msgCache) addLocked(key string, e *cacheEntry) {
	e.el = mc.order.PushBack(key)
	mc.items[key] = e
	for mc.order.Len() > mc.max {
		old := mc.order.Front()
		mc.order.Remove(old)
		delete(mc.items, old.Value.(string))
	}
}

// get returns the cached or in-flight entry, or registers a new in-flight
// one (owner true) that the caller must complete.
func (mc *msgCache) get(key string) (e *cacheEntry, owner bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if e, ok := mc.items[key]; ok {
		return e, false
	}
	e = &cacheEntry{done: make(chan struct{})}
	mc.addLocked(key, e)
	return e, true
}

func (mc *msgCache) finish(key string, e *cacheEntry, m *msgraph.ChatMessage, err error) {
	mc.mu.Lock()
	e.m, e.err = m, err
	if err != nil {
		// Failures are not cached: the next notification tries again.
		if cur, ok := mc.items[key]; ok && cur == e {
			mc.order.Remove(e.el)
			delete(mc.items, key)
		}
	}
	mc.mu.Unlock()
	close(e.done)
}

func copyMsg(m *msgraph.ChatMessage) *msgraph.ChatMessage {
	if m == nil {
		return nil
	}
	cp := *m
	return &cp
}

// FetchMessage reads one chat message, from the cache when it was seen.
func (c *Client) FetchMessage(ctx context.Context, chatID, msgID string) (*msgraph.ChatMessage, error) {
	key := cacheKey(chatID, msgID)
	e, owner := c.cache.get(key)
	if !owner {
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// Share the owner's outcome: retrying here would multiply requests
		// against a throttled chat.
		if e.err != nil {
			return nil, e.err
		}
		return copyMsg(e.m), nil
	}
	var m msgraph.ChatMessage
	err := c.request(ctx, "fetch chat message", http.MethodGet,
		"/chats/"+url.PathEscape(chatID)+"/messages/"+url.PathEscape(msgID), nil, &m)
	if err == nil && m.ChatID == "" {
		m.ChatID = chatID
	}
	var mp *msgraph.ChatMessage
	if err == nil {
		mp = &m
	}
	c.cache.finish(key, e, mp, err)
	if err != nil {
		return nil, err
	}
	return copyMsg(mp), nil
}

func (c *Client) checkClientState(n msgraph.ChangeNotification) error {
	c.mu.Lock()
	cs := c.csCache
	c.mu.Unlock()
	if cs == "" {
		v, err := c.clientState()
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.csCache, cs = v, v
		c.mu.Unlock()
	}
	if subtle.ConstantTimeCompare([]byte(n.ClientState), []byte(cs)) != 1 {
		// Never log the values: the clientState is a secret.
		c.log.Warn("SUSPICIOUS: notification with a wrong clientState dropped", "subscription", n.SubscriptionID, "resource", n.Resource, "lifecycleEvent", n.LifecycleEvent)
		return ErrClientState
	}
	return nil
}

// Resolve turns a change notification into its chat message: it verifies
// the clientState, then decrypts the rich-notification content, falling
// back to fetching the message when there is none or it cannot be trusted.
func (c *Client) Resolve(ctx context.Context, n msgraph.ChangeNotification) (*msgraph.ChatMessage, error) {
	if n.IsValidation() {
		return nil, ErrValidation
	}
	if n.IsLifecycle() {
		return nil, ErrLifecycle
	}
	if err := c.checkClientState(n); err != nil {
		return nil, err
	}
	chatID, msgID, idErr := msgraph.ChatMessageIDs(n.Resource)
	if idErr != nil && n.ResourceData != nil {
		chatID, msgID, idErr = msgraph.ChatMessageIDs(n.ResourceData.ODataID)
	}
	if n.EncryptedContent != nil && n.AdditionalPayloadStorageID == "" {
		m, err := c.Decrypt(n.EncryptedContent)
		if err == nil && idErr == nil && (m.ID != msgID || (m.ChatID != "" && m.ChatID != chatID)) {
			err = fmt.Errorf("%w: decrypted message %s does not match resource %s", ErrDecrypt, m.ID, n.Resource)
		}
		if err == nil {
			if m.ChatID == "" {
				m.ChatID = chatID
			}
			c.cache.put(cacheKey(chatID, m.ID), copyMsg(m))
			c.seen(m)
			return m, nil
		}
		c.log.Warn("rich notification not usable; fetching the message instead", "err", err, "resource", n.Resource)
	}
	if idErr != nil {
		return nil, fmt.Errorf("graph: notification resource %q names no chat message: %w", n.Resource, idErr)
	}
	m, err := c.FetchMessage(ctx, chatID, msgID)
	if err == nil {
		c.seen(m)
	}
	return m, err
}

// seen advances the in-memory watermark (persisted with the next renewal).
func (c *Client) seen(m *msgraph.ChatMessage) {
	t, err := time.Parse(time.RFC3339Nano, m.CreatedDateTime)
	if err != nil {
		return
	}
	c.mu.Lock()
	if t.After(c.state.Watermark) && !t.After(c.o.Clock.Now()) {
		c.state.Watermark = t
	}
	c.mu.Unlock()
}

// Backfill reads the user's chats updated since since and hands every
// message created since then to OnBackfill, oldest first. It returns how
// many it handed over. The receiver must de-duplicate by message id: some
// of them may also arrive through the hub.
func (c *Client) Backfill(ctx context.Context, since time.Time) (int, error) {
	if c.o.OnBackfill == nil {
		return 0, nil
	}
	c.log.Info("back-filling messages after a gap", "since", since)
	var found []msgraph.ChatMessage
	next := "/users/" + url.PathEscape(c.o.UserID) + "/chats?$top=50"
	var chats []msgraph.Chat
	for next != "" {
		var page struct {
			Value    []msgraph.Chat `json:"value"`
			NextLink string         `json:"@odata.nextLink"`
		}
		if err := c.request(ctx, "list chats for back-fill", http.MethodGet, next, nil, &page); err != nil {
			return 0, err
		}
		next = page.NextLink
		for _, ch := range page.Value {
			if t, err := time.Parse(time.RFC3339Nano, ch.LastUpdatedDateTime); err == nil && t.Before(since) {
				continue
			}
			chats = append(chats, ch)
		}
	}
	for _, ch := range chats {
		q := url.Values{"$top": {"50"}, "$orderby": {"createdDateTime desc"}}
		next := "/chats/" + url.PathEscape(ch.ID) + "/messages?" + q.Encode()
	pages:
		for next != "" {
			var page struct {
				Value    []msgraph.ChatMessage `json:"value"`
				NextLink string                `json:"@odata.nextLink"`
			}
			if err := c.request(ctx, "list chat messages for back-fill", http.MethodGet, next, nil, &page); err != nil {
				return 0, err
			}
			next = page.NextLink
			for _, m := range page.Value {
				t, err := time.Parse(time.RFC3339Nano, m.CreatedDateTime)
				if err == nil && t.Before(since) {
					break pages // newest first: the rest is older
				}
				if m.ChatID == "" {
					m.ChatID = ch.ID
				}
				found = append(found, m)
			}
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].CreatedDateTime < found[j].CreatedDateTime })
	for i := range found {
		c.cache.put(cacheKey(found[i].ChatID, found[i].ID), copyMsg(&found[i]))
		c.seen(&found[i])
		c.o.OnBackfill(ctx, found[i])
	}
	c.log.Info("back-fill done", "messages", len(found), "chats", len(chats))
	return len(found), nil
}
