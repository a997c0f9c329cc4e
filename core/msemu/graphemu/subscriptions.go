package graphemu

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"emergencydesk/core/msgraph"
)

// Graph's limits for Teams chatMessage subscriptions (contracts §2).
const (
	MaxLifetime         = 4320 * time.Minute
	lifecycleRequiredAt = time.Hour
	maxPerUser          = 10
	maxClientState      = 128
)

type encCert struct {
	id         string
	pub        *rsa.PublicKey
	thumbprint string
}

var (
	ownChatsRE = regexp.MustCompile(`^users/([^/]+)/chats/getAllMessages$`)
	oneChatRE  = regexp.MustCompile(`^chats/([^/]+)/messages$`)
	// EventHub:https://<ns>.servicebus.windows.net/eventhubname/<hub>?tenantId=<tenant>
	eventHubRE = regexp.MustCompile(`^EventHub:https://([a-zA-Z0-9-]+)\.(servicebus\.windows\.net|servicebus\.usgovcloudapi\.net|servicebus\.chinacloudapi\.cn)/eventhubname/([a-zA-Z0-9._-]+)\?tenantId=([^&\s]+)$`)
	keyVaultRE = regexp.MustCompile(`^EventHub:https://[a-zA-Z0-9-]+\.vault\.azure\.net/secrets/[^/?]+\?tenantId=[^&\s]+$`)
)

func (s *Server) purgeLocked() {
	now := s.now()
	for id, sub := range s.subs {
		if !now.Before(sub.expires) {
			delete(s.subs, id)
		}
	}
}

func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func checkNotificationURL(u, field string) (string, error) {
	if m := eventHubRE.FindStringSubmatch(u); m != nil {
		return m[1] + "." + m[2] + "/" + m[3], nil
	}
	if keyVaultRE.MatchString(u) {
		return u, nil
	}
	if strings.HasPrefix(strings.ToLower(u), "https://") {
		// Webhook delivery would need a validation handshake the emulator
		// cannot perform: refuse like an unreachable endpoint.
		return "", fmt.Errorf("Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
	}
	return "", fmt.Errorf("Invalid %s '%s'. An Event Hub %s must look like EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<eventhub>?tenantId=<tenant>.", field, u, field)
}

func (s *Server) createSub(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.now()
	var in msgraph.Subscription
	if err := decodeBody(r, &in); err != nil {
		writeError(w, now, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return
	}
	bad := func(msg string) { writeError(w, now, http.StatusBadRequest, "InvalidRequest", msg) }
	resource := strings.TrimPrefix(in.Resource, "/")
	switch {
	case resource == "":
		bad("Resource is a required property.")
		return
	case in.ChangeType == "":
		bad("ChangeType is a required property.")
		return
	case in.NotificationURL == "":
		bad("NotificationUrl is a required property.")
		return
	case in.ExpirationDateTime == "":
		bad("ExpirationDateTime is a required property.")
		return
	}
	for _, ct := range strings.Split(in.ChangeType, ",") {
		switch strings.TrimSpace(ct) {
		case "created", "updated", "deleted":
		default:
			bad(fmt.Sprintf("Invalid changeType '%s'. Allowed values: created, updated, deleted.", ct))
			return
		}
	}
	// Resource: only what a delegated Chat.Read token may watch.
	normalized := resource
	if resource == "me/chats/getAllMessages" {
		normalized = "users/" + c.Oid + "/chats/getAllMessages"
	}
	switch {
	case resource == "chats/getAllMessages":
		writeError(w, now, http.StatusForbidden, "Forbidden", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The resource 'chats/getAllMessages' requires application permission (Chat.Read.All); delegated tokens cannot subscribe to all chats in the tenant.]")
		return
	case ownChatsRE.MatchString(normalized):
		uid := ownChatsRE.FindStringSubmatch(normalized)[1]
		if !strings.EqualFold(uid, c.Oid) && !strings.EqualFold(uid, c.PreferredUsername) {
			writeError(w, now, http.StatusForbidden, "Forbidden", "Operation: Create; Exception: [Status Code: Forbidden; Reason: A delegated token can only subscribe to the signed-in user's own chats ('users/{id}/chats/getAllMessages' with the caller's id).]")
			return
		}
		normalized = "users/" + c.Oid + "/chats/getAllMessages"
	case oneChatRE.MatchString(resource):
		chatID := oneChatRE.FindStringSubmatch(resource)[1]
		s.mu.Lock()
		ch, ok := s.chats[chatID]
		member := ok && contains(ch.members, c.Oid)
		s.mu.Unlock()
		if !member {
			writeError(w, now, http.StatusForbidden, "Forbidden", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The caller is not a member of chat '"+chatID+"'.]")
			return
		}
	default:
		bad(fmt.Sprintf("Resource '%s' is not supported for change notifications with delegated permissions.", in.Resource))
		return
	}
	if !c.HasScope("Chat.Read") && !(oneChatRE.MatchString(resource) && c.HasScope("ChatMessage.Read")) {
		writeError(w, now, http.StatusForbidden, "Forbidden", fmt.Sprintf("Operation: Create; Exception: [Status Code: Forbidden; Reason: Missing scope permissions on the request. API requires one of 'Chat.Read, Chat.ReadWrite'. Scopes on the request '%s']", c.Scp))
		return
	}
	hubPath, err := checkNotificationURL(in.NotificationURL, "notificationUrl")
	if err != nil {
		bad(err.Error())
		return
	}
	if in.LifecycleNotificationURL != "" {
		if _, err := checkNotificationURL(in.LifecycleNotificationURL, "lifecycleNotificationUrl"); err != nil {
			bad(err.Error())
			return
		}
	}
	exp, err := time.Parse(time.RFC3339Nano, in.ExpirationDateTime)
	if err != nil {
		bad(fmt.Sprintf("Invalid expirationDateTime '%s'.", in.ExpirationDateTime))
		return
	}
	if msg := lifetimeProblem(now, exp, in.LifecycleNotificationURL != ""); msg != "" {
		bad(msg)
		return
	}
	if len(in.ClientState) > maxClientState {
		bad(fmt.Sprintf("clientState is too long: the maximum length is %d characters.", maxClientState))
		return
	}
	var cert *encCert
	if in.IncludeResourceData {
		if in.EncryptionCertificate == "" || in.EncryptionCertificateID == "" {
			bad("A valid encryptionCertificate and encryptionCertificateId are required when includeResourceData is true.")
			return
		}
		cert, err = parseEncCert(in.EncryptionCertificate, in.EncryptionCertificateID)
		if err != nil {
			bad(err.Error())
			return
		}
	}
	s.mu.Lock()
	if s.sendClaimMiss {
		s.mu.Unlock()
		bad(fmt.Sprintf("Client EventHubs publishing validation failed: UnauthorizedAccessException: Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://%s'.", hubPath))
		return
	}
	s.purgeLocked()
	perUser := 0
	for _, sub := range s.subs {
		if sub.userID == c.Oid && strings.HasSuffix(sub.Resource, "/chats/getAllMessages") {
			perUser++
		}
		if sub.appID == c.app && sub.Resource == normalized && sameChangeType(sub.ChangeType, in.ChangeType) {
			s.mu.Unlock()
			writeError(w, now, http.StatusConflict, "ExtensionError", fmt.Sprintf("Operation: Create; Exception: [Status Code: Conflict; Reason: A subscription for resource '%s' with changeType '%s' already exists for this application (id %s).]", normalized, in.ChangeType, sub.ID))
			return
		}
	}
	if strings.HasSuffix(normalized, "/chats/getAllMessages") && perUser >= maxPerUser {
		s.mu.Unlock()
		writeError(w, now, http.StatusForbidden, "Forbidden", fmt.Sprintf("Operation: Create; Exception: [Status Code: Forbidden; Reason: Subscription quota exceeded: a user can have at most %d subscriptions on chats/getAllMessages and user '%s' already has %d.]", maxPerUser, c.Oid, perUser))
		return
	}
	sub := &subscription{Subscription: in, appID: c.app, userID: c.Oid, expires: exp, cert: cert}
	sub.ID = newID()
	sub.Resource = normalized
	sub.ApplicationID = c.app
	sub.CreatorID = c.Oid
	sub.LatestSupportedTLSVersion = "v1_2"
	sub.ExpirationDateTime = exp.UTC().Format("2006-01-02T15:04:05.0000000Z")
	s.subs[sub.ID] = sub
	out := sub.Subscription
	s.mu.Unlock()
	// Graph tests reachability of the hub with this record on each creation.
	s.publish(r.Context(), sub.ID, msgraph.NotificationCollection{Value: []msgraph.ChangeNotification{{
		SubscriptionID: "NA", SubscriptionExpirationDateTime: "NA", ClientState: "NA",
		ChangeType:   msgraph.ValidationPrefix + " for subscription Request-Id: " + newID(),
		Resource:     "NA",
		ResourceData: &msgraph.ResourceData{ODataType: "NA", ODataID: "NA", ID: "NA"},
	}}})
	writeJSON(w, http.StatusCreated, subJSON(out))
}

func sameChangeType(a, b string) bool {
	norm := func(s string) string {
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	return norm(a) == norm(b)
}

func lifetimeProblem(now, exp time.Time, hasLifecycle bool) string {
	switch {
	case !exp.After(now):
		return "Subscription expiration date must be in the future."
	case exp.Sub(now) > MaxLifetime:
		return fmt.Sprintf("Subscription expiration can only be %d minutes in the future.", int(MaxLifetime/time.Minute))
	case exp.Sub(now) > lifecycleRequiredAt && !hasLifecycle:
		return "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour."
	}
	return ""
}

func parseEncCert(b64, id string) (*encCert, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("encryptionCertificate is not valid base64: send the certificate's DER bytes base64-encoded.")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("encryptionCertificate cannot be parsed as an X.509 certificate: %v.", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("encryptionCertificate must hold an RSA public key.")
	}
	if bits := pub.N.BitLen(); bits < 2048 || bits > 4096 {
		return nil, fmt.Errorf("encryptionCertificate key size %d is not supported: use an RSA key of 2048 to 4096 bits.", bits)
	}
	sum := sha1.Sum(der)
	return &encCert{id: id, pub: pub, thumbprint: strings.ToUpper(hex.EncodeToString(sum[:]))}, nil
}

// subJSON is the subscription as Graph returns it: the certificate itself
// is not echoed.
func subJSON(s msgraph.Subscription) map[string]any {
	s.EncryptionCertificate = ""
	data, _ := json.Marshal(s)
	var m map[string]any
	json.Unmarshal(data, &m)
	m["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity"
	m["encryptionCertificate"] = nil
	return m
}

func (s *Server) ownSub(w http.ResponseWriter, r *http.Request, c caller) *subscription {
	s.purgeLocked()
	id := r.PathValue("id")
	sub, ok := s.subs[id]
	if !ok || sub.appID != c.app || sub.userID != c.Oid {
		writeError(w, s.now(), http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The object was not found. Subscription '%s' does not exist or has expired.", id))
		return nil
	}
	return sub
}

func (s *Server) listSubs(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	s.purgeLocked()
	var out []map[string]any
	ids := make([]string, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sub := s.subs[id]
		if sub.appID == c.app && sub.userID == c.Oid {
			m := subJSON(sub.Subscription)
			delete(m, "@odata.context")
			out = append(out, m)
		}
	}
	s.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions", "value": out})
}

func (s *Server) getSub(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	sub := s.ownSub(w, r, c)
	var out msgraph.Subscription
	if sub != nil {
		out = sub.Subscription
	}
	s.mu.Unlock()
	if sub != nil {
		writeJSON(w, http.StatusOK, subJSON(out))
	}
}

func (s *Server) patchSub(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.now()
	var in msgraph.Subscription
	if err := decodeBody(r, &in); err != nil {
		writeError(w, now, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload.")
		return
	}
	s.mu.Lock()
	sub := s.ownSub(w, r, c)
	if sub == nil {
		s.mu.Unlock()
		return
	}
	if in.LifecycleNotificationURL != "" && in.LifecycleNotificationURL != sub.LifecycleNotificationURL {
		s.mu.Unlock()
		writeError(w, now, http.StatusBadRequest, "InvalidRequest", "lifecycleNotificationUrl cannot be updated on an existing subscription: delete the subscription and create it again.")
		return
	}
	if in.NotificationURL != "" {
		if _, err := checkNotificationURL(in.NotificationURL, "notificationUrl"); err != nil {
			s.mu.Unlock()
			writeError(w, now, http.StatusBadRequest, "InvalidRequest", err.Error())
			return
		}
		sub.NotificationURL = in.NotificationURL
	}
	if in.ExpirationDateTime != "" {
		exp, err := time.Parse(time.RFC3339Nano, in.ExpirationDateTime)
		if err != nil {
			s.mu.Unlock()
			writeError(w, now, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("Invalid expirationDateTime '%s'.", in.ExpirationDateTime))
			return
		}
		if msg := lifetimeProblem(now, exp, sub.LifecycleNotificationURL != ""); msg != "" {
			s.mu.Unlock()
			writeError(w, now, http.StatusBadRequest, "InvalidRequest", msg)
			return
		}
		sub.expires = exp
		sub.ExpirationDateTime = exp.UTC().Format("2006-01-02T15:04:05.0000000Z")
	}
	out := sub.Subscription
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, subJSON(out))
}

func (s *Server) deleteSub(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	sub := s.ownSub(w, r, c)
	if sub != nil {
		delete(s.subs, sub.ID)
	}
	s.mu.Unlock()
	if sub != nil {
		w.Header().Set("request-id", newID())
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) reauthorize(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	sub := s.ownSub(w, r, c)
	s.mu.Unlock()
	if sub != nil {
		w.Header().Set("request-id", newID())
		w.WriteHeader(http.StatusOK)
	}
}

// Subscriptions returns the live subscriptions (admin view, certificate
// omitted).
func (s *Server) Subscriptions() []msgraph.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked()
	var out []msgraph.Subscription
	for _, sub := range s.subs {
		v := sub.Subscription
		v.EncryptionCertificate = ""
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RemoveSubscription deletes a subscription as Graph may do on its own and
// sends subscriptionRemoved to its lifecycle URL (unless suppressed).
func (s *Server) RemoveSubscription(ctx context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("graphemu: no subscription %q", id)
	}
	return s.lifecycle(ctx, sub, msgraph.LifecycleSubscriptionRemoved)
}

// RequireReauthorization sends reauthorizationRequired for a subscription.
func (s *Server) RequireReauthorization(ctx context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("graphemu: no subscription %q", id)
	}
	return s.lifecycle(ctx, sub, msgraph.LifecycleReauthorizationRequired)
}

func (s *Server) lifecycle(ctx context.Context, sub *subscription, event string) error {
	s.mu.Lock()
	suppressed := s.noLifecycle || sub.LifecycleNotificationURL == ""
	s.mu.Unlock()
	if suppressed {
		return nil
	}
	return s.publish(ctx, sub.ID, msgraph.NotificationCollection{Value: []msgraph.ChangeNotification{{
		SubscriptionID:                 sub.ID,
		SubscriptionExpirationDateTime: graphTime(sub.expires),
		TenantID:                       s.opts.TenantID,
		ClientState:                    sub.ClientState,
		LifecycleEvent:                 event,
	}}})
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000-00:00") }

func (s *Server) publish(ctx context.Context, key string, nc msgraph.NotificationCollection) error {
	if s.opts.Publisher == nil {
		return nil
	}
	data, err := json.Marshal(nc)
	if err != nil {
		return err
	}
	if err := s.opts.Publisher.Publish(ctx, []byte(key), data); err != nil {
		s.log.Warn("publish to event hub failed", "err", err)
		return fmt.Errorf("graphemu: publish notification: %w", err)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
