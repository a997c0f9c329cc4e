package entra

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
)

// The verification page imitates microsoft.com/devicelogin: enter the code,
// then pick who signs in and approve or decline the consent shown.
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:34em;margin:3em auto}li{margin:.2em 0}.err{color:#a00}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
{{if .Done}}<p id="result">{{.Done}}</p>
{{else if .Consent}}
<p>Signing in to <strong id="app">{{.AppName}}</strong> (application ID <code>{{.ClientID}}</code>) in tenant <code>{{.Tenant}}</code>.</p>
<p>This app would like to:</p>
<ul id="scopes">{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/devicelogin">
<input type="hidden" name="otc" value="{{.Code}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<label>Sign in as <select name="user">{{range .Users}}<option value="{{.UPN}}">{{.DisplayName}} ({{.UPN}})</option>{{end}}</select></label>
<p><button type="submit" name="action" value="approve">Accept</button>
<button type="submit" name="action" value="decline">Cancel</button></p>
</form>
{{else}}
<form method="post" action="/devicelogin">
<label>Enter code <input name="otc" autocomplete="off" autofocus></label>
<button type="submit">Next</button>
</form>
{{end}}
</body></html>`))

type pageData struct {
	Title, Error, Done        string
	Consent                   bool
	AppName, ClientID, Tenant string
	Scopes                    []string
	Users                     []User
	Code, Flow                string
}

func (s *Server) flowMAC(code string) string {
	m := hmac.New(sha256.New, s.formSecret)
	m.Write([]byte(normCode(code)))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) deviceLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	d := pageData{Title: "Enter code"}
	render := func(status int) {
		w.WriteHeader(status)
		pageTmpl.Execute(w, d)
	}
	switch r.Method {
	case http.MethodGet:
		render(http.StatusOK)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		render(http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		d.Error = "The form could not be read."
		render(http.StatusBadRequest)
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("otc"))
	action := r.PostForm.Get("action")
	if action == "" {
		s.mu.Lock()
		dc, err := s.pendingLocked(code)
		var app App
		if err == nil {
			app = s.apps[strings.ToLower(dc.clientID)]
			d.Scopes = append([]string(nil), dc.scopes...)
			d.Users = append([]User(nil), s.users...)
		}
		s.mu.Unlock()
		if err != nil {
			d.Error = "That code didn't work. Check the code and try again."
			render(http.StatusBadRequest)
			return
		}
		d.Title, d.Consent = "Permissions requested", true
		d.AppName, d.ClientID, d.Tenant = app.Name, app.ClientID, s.opts.TenantDomain
		d.Code, d.Flow = normCode(code), s.flowMAC(code)
		render(http.StatusOK)
		return
	}
	if !hmac.Equal([]byte(r.PostForm.Get("flow")), []byte(s.flowMAC(code))) {
		d.Error = "This sign-in page has expired. Enter the code again."
		render(http.StatusBadRequest)
		return
	}
	var err error
	switch action {
	case "approve":
		err = s.Approve(code, r.PostForm.Get("user"))
		d.Title, d.Done = "Signed in", "You have signed in on your device. You may now close this window."
	case "decline":
		err = s.Decline(code)
		d.Title, d.Done = "Sign-in cancelled", "You declined the sign-in. You may now close this window."
	default:
		d.Error = "Unknown action."
		render(http.StatusBadRequest)
		return
	}
	if err != nil {
		d.Title, d.Done = "Enter code", ""
		d.Error = "That code didn't work. Check the code and try again."
		render(http.StatusBadRequest)
		return
	}
	render(http.StatusOK)
}
