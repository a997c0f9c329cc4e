// Package msgraph holds the Microsoft Graph wire types the app exchanges:
// change notifications as they arrive in the Event Hub, subscriptions, and
// chat messages. It has no behaviour beyond parsing helpers, so the client
// (core/graph), the recogniser (core/alert) and the emulator (core/msemu)
// agree on one shape.
package msgraph

import (
	"errors"
	"regexp"
	"strings"
	"time"
)

// NotificationCollection is the body of one Event Hub record.
type NotificationCollection struct {
	Value []ChangeNotification `json:"value"`
	// ValidationTokens are present on rich-notification batches.
	ValidationTokens []string `json:"validationTokens,omitempty"`
}

// ChangeNotification is one item of a collection. A lifecycle notification
// has LifecycleEvent set instead of ChangeType.
type ChangeNotification struct {
	ID                             string            `json:"id,omitempty"`
	SubscriptionID                 string            `json:"subscriptionId"`
	SubscriptionExpirationDateTime string            `json:"subscriptionExpirationDateTime"`
	ChangeType                     string            `json:"changeType,omitempty"`
	LifecycleEvent                 string            `json:"lifecycleEvent,omitempty"`
	ClientState                    string            `json:"clientState,omitempty"`
	Resource                       string            `json:"resource,omitempty"`
	ResourceData                   *ResourceData     `json:"resourceData,omitempty"`
	TenantID                       string            `json:"tenantId,omitempty"`
	EncryptedContent               *EncryptedContent `json:"encryptedContent,omitempty"`
	// AdditionalPayloadStorageID is set when the payload was too large for
	// the hub (over 1 MB); the message must be fetched.
	AdditionalPayloadStorageID string `json:"additionalPayloadStorageId,omitempty"`
}

// ResourceData identifies the changed resource.
type ResourceData struct {
	ODataType string `json:"@odata.type"`
	ODataID   string `json:"@odata.id"`
	ID        string `json:"id"`
}

// EncryptedContent carries rich-notification resource data.
type EncryptedContent struct {
	Data                            string `json:"data"`
	DataKey                         string `json:"dataKey"`
	DataSignature                   string `json:"dataSignature,omitempty"`
	EncryptionCertificateID         string `json:"encryptionCertificateId"`
	EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
}

// Lifecycle events.
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// ValidationPrefix starts the changeType of the record Graph writes to the
// hub on every subscription creation; it must be ignored.
const ValidationPrefix = "Validation: Testing client application reachability"

// IsValidation reports whether n is the hub reachability record.
func (n ChangeNotification) IsValidation() bool {
	return strings.HasPrefix(n.ChangeType, ValidationPrefix) || (n.SubscriptionID == "NA" && n.ClientState == "NA")
}

// IsLifecycle reports whether n is a lifecycle event.
func (n ChangeNotification) IsLifecycle() bool { return n.LifecycleEvent != "" }

var resourceRE = regexp.MustCompile(`^/?chats\('([^']+)'\)/messages\('([^']+)'\)`)
var resourcePathRE = regexp.MustCompile(`^/?chats/([^/]+)/messages/([^/?]+)`)

// ErrResource means a resource string does not name a chat message.
var ErrResource = errors.New("resource does not name a chat message")

// ChatMessageIDs parses chats('<chat>')/messages('<msg>') (or the path form
// chats/<chat>/messages/<msg>) into its ids.
func ChatMessageIDs(resource string) (chatID, messageID string, err error) {
	if m := resourceRE.FindStringSubmatch(resource); m != nil {
		return m[1], m[2], nil
	}
	if m := resourcePathRE.FindStringSubmatch(resource); m != nil {
		return m[1], m[2], nil
	}
	return "", "", ErrResource
}

// Subscription is a Graph subscription resource.
type Subscription struct {
	ID                        string `json:"id,omitempty"`
	Resource                  string `json:"resource"`
	ChangeType                string `json:"changeType"`
	NotificationURL           string `json:"notificationUrl"`
	LifecycleNotificationURL  string `json:"lifecycleNotificationUrl,omitempty"`
	ExpirationDateTime        string `json:"expirationDateTime"`
	ClientState               string `json:"clientState,omitempty"`
	IncludeResourceData       bool   `json:"includeResourceData,omitempty"`
	EncryptionCertificate     string `json:"encryptionCertificate,omitempty"`
	EncryptionCertificateID   string `json:"encryptionCertificateId,omitempty"`
	ApplicationID             string `json:"applicationId,omitempty"`
	CreatorID                 string `json:"creatorId,omitempty"`
	LatestSupportedTLSVersion string `json:"latestSupportedTlsVersion,omitempty"`
	NotificationContentType   string `json:"notificationContentType,omitempty"`
	NotificationURLAppID      string `json:"notificationUrlAppId,omitempty"`
	NotificationQueryOptions  string `json:"notificationQueryOptions,omitempty"`
}

// Expiration parses ExpirationDateTime.
func (s Subscription) Expiration() (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s.ExpirationDateTime)
}

// ChatMessage is the part of Graph's chatMessage the app uses.
type ChatMessage struct {
	ID                   string       `json:"id"`
	ReplyToID            string       `json:"replyToId,omitempty"`
	ETag                 string       `json:"etag,omitempty"`
	MessageType          string       `json:"messageType"`
	CreatedDateTime      string       `json:"createdDateTime"`
	LastModifiedDateTime string       `json:"lastModifiedDateTime,omitempty"`
	DeletedDateTime      *string      `json:"deletedDateTime"`
	Subject              *string      `json:"subject"`
	Summary              *string      `json:"summary"`
	ChatID               string       `json:"chatId"`
	Importance           string       `json:"importance"`
	Locale               string       `json:"locale"`
	WebURL               string       `json:"webUrl"`
	From                 *From        `json:"from"`
	Body                 ItemBody     `json:"body"`
	Attachments          []Attachment `json:"attachments"`
	Mentions             []Mention    `json:"mentions"`
	Reactions            []any        `json:"reactions"`
	ChannelIdentity      *any         `json:"channelIdentity"`
	PolicyViolation      *any         `json:"policyViolation"`
	EventDetail          *any         `json:"eventDetail"`
}

// From is a message's sender.
type From struct {
	Application *Identity     `json:"application"`
	Device      *Identity     `json:"device"`
	User        *UserIdentity `json:"user"`
}

// Identity is a Graph identity.
type Identity struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// UserIdentity is a Teams user identity.
type UserIdentity struct {
	ODataType        string `json:"@odata.type,omitempty"`
	ID               string `json:"id"`
	DisplayName      string `json:"displayName"`
	UserIdentityType string `json:"userIdentityType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
}

// ItemBody is a message body.
type ItemBody struct {
	ContentType string `json:"contentType"` // "text" or "html"
	Content     string `json:"content"`
}

// Attachment is a message attachment.
type Attachment struct {
	ID          string  `json:"id"`
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     *string `json:"content"`
	Name        *string `json:"name"`
}

// Mention is an @mention.
type Mention struct {
	ID          int    `json:"id"`
	MentionText string `json:"mentionText"`
}

// Chat is a Graph chat (for back-fill).
type Chat struct {
	ID                  string  `json:"id"`
	Topic               *string `json:"topic"`
	ChatType            string  `json:"chatType"` // oneOnOne, group, meeting
	CreatedDateTime     string  `json:"createdDateTime"`
	LastUpdatedDateTime string  `json:"lastUpdatedDateTime"`
	WebURL              string  `json:"webUrl"`
}

// User is the /me profile.
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
	Mail              string `json:"mail,omitempty"`
}

// ErrorResponse is Graph's error JSON.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inner error.
type ErrorBody struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError InnerError `json:"innerError"`
}

// InnerError carries request ids.
type InnerError struct {
	Date            string `json:"date,omitempty"`
	RequestID       string `json:"request-id,omitempty"`
	ClientRequestID string `json:"client-request-id,omitempty"`
}
