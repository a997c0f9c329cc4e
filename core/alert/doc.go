// Package alert recognises a Teams emergency-call notification in a Graph
// chat message and turns it into the Alert record the rest of the app
// stores, shows and exports. It also parses Event Hub record bodies into
// Graph change notifications and classifies them (validation, lifecycle,
// change). Chat HTML is only ever converted to plain text, never rendered.
package alert
