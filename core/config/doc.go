// Package config is the settings model: the install guide's four tabs
// (OAuth, Subscription, Event Hub, Permissions) field by field with the
// guide's defaults, plus what a desk needs beyond the guide (cloud profile
// and endpoint overrides, extra CA bundle, emergency numbers and patterns,
// alert sound, the stable workstation ID).
//
// Secrets are not part of the model: the client secret and the connection
// string live only in the vault (core/secrets). Validation returns every
// problem at once, per field, in words an admin can act on. Persistence is
// one JSON file, mode 0600, written atomically with the previous version
// kept as a backup.
package config
