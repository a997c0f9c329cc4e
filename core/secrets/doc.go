// Package secrets is the vault for everything that must never touch a log
// or a config file: the client secret, the Event Hub connection string, the
// MSAL token cache, subscription client states and private keys.
//
// Values live in the OS keyring through go-keyring (Secret Service on Linux,
// Credential Manager on Windows, Keychain on macOS). Those stores cap the
// size of one entry (Windows 2,560 bytes, macOS about 3 KB) while a token
// cache runs to tens of kilobytes, so larger values are sealed: AES-256-GCM
// encrypted into a file under the vault directory, with a fresh key per
// write kept in the keyring entry itself. A write creates the new file
// first and only then swaps the keyring entry, so a crash at any point
// leaves either the old or the new value readable, never neither.
//
// There is deliberately no plaintext fallback: when the keyring is missing
// or locked every call fails with ErrUnavailable and says so.
package secrets
