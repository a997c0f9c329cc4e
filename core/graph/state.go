package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"emergencydesk/core/secrets"
)

// State is what survives a restart about a user's subscription.
type State struct {
	SubscriptionID string    `json:"subscriptionId,omitempty"`
	Expiration     time.Time `json:"expiration,omitzero"`
	CertID         string    `json:"certId,omitempty"`
	// SubCertID is the certificate the subscription actually carries: a
	// different one means another desk created the shared subscription.
	SubCertID   string    `json:"subCertId,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	LastRenewal time.Time `json:"lastRenewal,omitzero"`
	// Watermark is the last time notifications were known to flow: back-fill
	// after a gap starts here.
	Watermark time.Time `json:"watermark,omitzero"`
}

// StateStore persists State per user.
type StateStore interface {
	Load(userID string) (State, error) // zero State when none
	Save(userID string, s State) error
	Delete(userID string) error
}

// StateName is the vault name of a user's subscription state.
func StateName(userID string) string { return "graph.subscription." + userID }

// VaultStateStore keeps State as JSON in the vault (it holds no secret,
// but lives next to the clientState it belongs to).
type VaultStateStore struct{ V Vault }

// Load implements StateStore.
func (v VaultStateStore) Load(userID string) (State, error) {
	var s State
	raw, err := v.V.Get(StateName(userID))
	if errors.Is(err, secrets.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return State{}, fmt.Errorf("graph: stored subscription state is damaged (%v); it will be rebuilt", err)
	}
	return s, nil
}

// Save implements StateStore.
func (v VaultStateStore) Save(userID string, s State) error {
	data, _ := json.Marshal(s)
	return v.V.Set(StateName(userID), string(data))
}

// Delete implements StateStore.
func (v VaultStateStore) Delete(userID string) error { return v.V.Delete(StateName(userID)) }
