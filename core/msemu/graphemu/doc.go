// Package graphemu is the emulated Microsoft Graph and Teams: an HTTPS
// server on loopback that checks the emulator's bearer tokens, keeps chats
// and change-notification subscriptions with Graph's real rules and errors,
// and writes change notifications (plain or encrypted) and lifecycle events
// to an Event Hub publisher as Graph would when a Teams message is posted.
package graphemu
