package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"emergencydesk/core/msgraph"
)

// Kind classifies a Graph failure by what the admin has to do about it.
type Kind string

// Kinds of failure.
const (
	KindAuth          Kind = "auth"           // 401: token missing, expired or rejected
	KindScope         Kind = "scope"          // 403: a delegated permission is missing
	KindAppPermission Kind = "app-permission" // 403: resource needs application permission
	KindQuota         Kind = "quota"          // 403: subscription quota reached
	KindSendClaim     Kind = "send-claim"     // Change Tracking principal lacks Data Sender
	KindLifecycleURL  Kind = "lifecycle-url"  // lifecycleNotificationUrl required
	KindNotFound      Kind = "not-found"      // 404
	KindConflict      Kind = "conflict"       // 409 duplicate subscription
	KindThrottled     Kind = "throttled"      // 429
	KindUnavailable   Kind = "unavailable"    // 5xx
	KindBadRequest    Kind = "bad-request"    // other 400s
	KindNetwork       Kind = "network"        // no HTTP answer
	KindOther         Kind = "other"
)

// ChangeTrackingAppID is the appId of the "Microsoft Graph Change Tracking"
// service principal that writes notifications into the Event Hub.
const ChangeTrackingAppID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

// SendClaimFix is the install guide's fix for "Send claim(s) required".
const SendClaimFix = `Grant the "Azure Event Hubs Data Sender" role on the Event Hub namespace to the "Microsoft Graph Change Tracking" service principal (appId ` + ChangeTrackingAppID + `), not the generic "Microsoft Graph" one. Azure Portal: Event Hub namespace → Access control (IAM) → Add role assignment → "Azure Event Hubs Data Sender" → "Microsoft Graph Change Tracking". Azure CLI:
  MS_GRAPH_CT_OBJECT_ID=$(az ad sp list --display-name "Microsoft Graph Change Tracking" --query "[0].id" -o tsv)
  az role assignment create --assignee-object-id "$MS_GRAPH_CT_OBJECT_ID" --assignee-principal-type "ServicePrincipal" --role "Azure Event Hubs Data Sender" --scope "/subscriptions/$SUBSCRIPTION_ID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.EventHub/namespaces/$NAMESPACE_NAME"`

// Error is a failed Graph request.
type Error struct {
	Op         string // e.g. "create subscription"
	Status     int    // 0 when no HTTP answer arrived
	Code       string // Graph error code
	Message    string // Graph error message
	RequestID  string
	Date       string
	RetryAfter time.Duration
	Err        error // transport error when Status is 0
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("graph: %s: %v", e.Op, e.Err)
	}
	s := fmt.Sprintf("graph: %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request-id " + e.RequestID + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Kind classifies e.
func (e *Error) Kind() Kind {
	msg := strings.ToLower(e.Message)
	switch {
	case e.Status == 0:
		return KindNetwork
	case strings.Contains(msg, "send' claim") || strings.Contains(msg, "send claim"):
		return KindSendClaim
	case e.Status == http.StatusUnauthorized:
		return KindAuth
	case strings.Contains(msg, "lifecyclenotificationurl is a required property"):
		return KindLifecycleURL
	case e.Status == http.StatusForbidden && strings.Contains(msg, "quota"):
		return KindQuota
	case e.Status == http.StatusForbidden && strings.Contains(msg, "application permission"):
		return KindAppPermission
	case e.Status == http.StatusForbidden:
		return KindScope
	case e.Status == http.StatusNotFound:
		return KindNotFound
	case e.Status == http.StatusConflict:
		return KindConflict
	case e.Status == http.StatusTooManyRequests:
		return KindThrottled
	case e.Status >= 500:
		return KindUnavailable
	case e.Status == http.StatusBadRequest:
		return KindBadRequest
	}
	return KindOther
}

// Summary says in words what went wrong.
func (e *Error) Summary() string {
	switch e.Kind() {
	case KindNetwork:
		return fmt.Sprintf("Microsoft Graph could not be reached (%s): %v", e.Op, e.Err)
	case KindSendClaim:
		return "Graph cannot write to the Event Hub: the \"Microsoft Graph Change Tracking\" service principal lacks the \"Azure Event Hubs Data Sender\" role (\"Send claim(s) required\")"
	case KindAuth:
		return "Microsoft Graph rejected the monitoring user's sign-in: " + e.Message
	case KindLifecycleURL:
		return "Graph requires a lifecycle notification URL for subscriptions longer than 1 hour"
	case KindQuota:
		return "the Graph subscription quota is reached: " + e.Message
	case KindAppPermission:
		return "the subscription resource needs an application permission the app does not use: " + e.Message
	case KindScope:
		return "the monitoring user's token lacks a permission Graph needs: " + e.Message
	case KindNotFound:
		return fmt.Sprintf("not found (%s): %s", e.Op, e.Message)
	case KindConflict:
		return "a subscription for the same chats already exists for this app"
	case KindThrottled:
		return fmt.Sprintf("Microsoft Graph is throttling requests (%s)", e.Op)
	case KindUnavailable:
		return fmt.Sprintf("Microsoft Graph is unavailable (HTTP %d) during %s", e.Status, e.Op)
	}
	return e.Error()
}

// Fix says what to do about it.
func (e *Error) Fix() string {
	switch e.Kind() {
	case KindNetwork:
		return "Check the network and firewall: outbound HTTPS (443) to the Graph host must be allowed; the app retries on its own."
	case KindSendClaim:
		return SendClaimFix
	case KindAuth:
		return "Sign the monitoring user in again (Teams Integration → Add Monitoring User) if this persists after an automatic token refresh."
	case KindLifecycleURL:
		return "This is a bug in the app's request: report it. As a workaround set Subscription Timeout Minutes to 60 or less."
	case KindQuota:
		return "Delete unused subscriptions of this user (each user may have at most 10 on chats/getAllMessages; other tools subscribed with the same account count too), or use a dedicated monitoring user."
	case KindAppPermission:
		return "Use the per-user resource /users/{id}/chats/getAllMessages, which the delegated Chat.Read permission allows."
	case KindScope:
		return "In the app registration's API permissions add the delegated permissions User.Read, Chat.Read, Chat.ReadBasic and ChatMessage.Read, check them in the Permissions tab, and sign the monitoring user in again so they consent."
	case KindConflict:
		return "The app adopts its own existing subscription; if another tool created it with the same app registration, delete that subscription."
	case KindThrottled, KindUnavailable:
		return "Nothing to do: the app waits as Graph asks (Retry-After) and retries."
	case KindNotFound:
		return "The app re-creates missing subscriptions on its own; if messages are missing, check the monitoring user is a member of the chat."
	}
	return "See the error details; check the settings in Teams Integration and the app registration."
}

// Classify returns a summary and a fix for any error from this package
// (empty strings for nil).
func Classify(err error) (summary, fix string) {
	if err == nil {
		return "", ""
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Summary(), ge.Fix()
	}
	switch {
	case errors.Is(err, ErrClientState):
		return "a notification carried the wrong clientState and was dropped (it may be forged, or from an older subscription)", "Nothing to do if it happens once after a re-sign-in; if it repeats, someone else may be writing to the Event Hub: rotate its shared access keys."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the Graph request was cancelled or timed out", "Check the network; the app retries."
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "Microsoft Graph could not be reached: " + err.Error(), "Check the network and firewall (HTTPS 443 to the Graph host)."
	}
	return err.Error(), "See the error details."
}

func parseError(op string, resp *http.Response, body []byte) *Error {
	e := &Error{Op: op, Status: resp.StatusCode, RequestID: resp.Header.Get("request-id")}
	var er msgraph.ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error.Code != "" {
		e.Code, e.Message, e.Date = er.Error.Code, er.Error.Message, er.Error.InnerError.Date
		if er.Error.InnerError.RequestID != "" {
			e.RequestID = er.Error.InnerError.RequestID
		}
	} else {
		e.Message = strings.TrimSpace(http.StatusText(resp.StatusCode))
	}
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}
