package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Cloud profiles.
const (
	CloudGlobal = "global"
	CloudUSGov  = "usgov" // GCC High
	CloudUSDoD  = "usdod"
	CloudChina  = "china" // 21Vianet
)

// Profile holds a national cloud's endpoints.
type Profile struct {
	Name             string
	Label            string
	LoginURL         string // e.g. https://login.microsoftonline.com
	GraphURL         string // e.g. https://graph.microsoft.com
	ServiceBusSuffix string // e.g. servicebus.windows.net
}

// Profiles lists the supported clouds.
var Profiles = []Profile{
	{CloudGlobal, "Global (commercial, GCC)", "https://login.microsoftonline.com", "https://graph.microsoft.com", "servicebus.windows.net"},
	{CloudUSGov, "US Government (GCC High)", "https://login.microsoftonline.us", "https://graph.microsoft.us", "servicebus.usgovcloudapi.net"},
	{CloudUSDoD, "US Department of Defense", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us", "servicebus.usgovcloudapi.net"},
	{CloudChina, "China (21Vianet)", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn", "servicebus.chinacloudapi.cn"},
}

// LookupProfile returns the named profile.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Endpoints are the resolved addresses the app talks to.
type Endpoints struct {
	// Authority is the MSAL authority, e.g. https://login.microsoftonline.com/<tenant>
	Authority string
	// LoginHost is host[:port] of the login service (diagnostics).
	LoginHost string
	// Graph is the Graph base including /v1.0.
	Graph string
	// GraphHost is host[:port] of Graph (diagnostics).
	GraphHost string
}

// Endpoints resolves the cloud profile and overrides.
func (c Config) Endpoints() (Endpoints, error) {
	p, ok := LookupProfile(c.Cloud.Profile)
	if !ok {
		return Endpoints{}, fmt.Errorf("unknown cloud profile %q", c.Cloud.Profile)
	}
	login, graph := p.LoginURL, p.GraphURL
	if c.Cloud.AuthorityURL != "" {
		login = c.Cloud.AuthorityURL
	}
	if c.Cloud.GraphURL != "" {
		graph = c.Cloud.GraphURL
	}
	login = strings.TrimRight(login, "/")
	graph = strings.TrimSuffix(strings.TrimRight(graph, "/"), "/v1.0")
	lu, err := url.Parse(login)
	if err != nil {
		return Endpoints{}, fmt.Errorf("login URL %q: %w", login, err)
	}
	gu, err := url.Parse(graph)
	if err != nil {
		return Endpoints{}, fmt.Errorf("graph URL %q: %w", graph, err)
	}
	return Endpoints{
		Authority: login + "/" + c.OAuth.TenantID,
		LoginHost: hostPort(lu),
		Graph:     graph + "/v1.0",
		GraphHost: hostPort(gu),
	}, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return u.Hostname() + ":443"
}
