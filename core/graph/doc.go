// Package graph is the Microsoft Graph client for one monitoring user: it
// keeps the chat-message change-notification subscription to the Event Hub
// alive (create, renew, re-authorize, re-create, adopt, delete), back-fills
// messages after a gap, and turns a change notification into the chat
// message behind it by decrypting rich-notification content or fetching it.
package graph
