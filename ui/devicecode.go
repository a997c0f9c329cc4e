package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/engine"
)

// deviceCodeDialog walks a monitoring user through the device-code sign-in:
// Start Authentication → code and link with a countdown → result.
type deviceCodeDialog struct {
	u      *UI
	dlg    *dialog.CustomDialog
	userID string // "" adds a user; otherwise re-authenticates this one

	intro     *widget.Label
	start     *widget.Button
	code      *canvas.Text
	copyBtn   *widget.Button
	link      *widget.Hyperlink
	openBtn   *widget.Button
	countdown *widget.Label
	result    *widget.Label
	cancel    *widget.Button
	closeBtn  *widget.Button
	codeBox   *fyne.Container
	body      *fyne.Container

	prompt  engine.DeviceCode
	waiting bool // a sign-in is in progress
	stop    chan struct{}
}

func newDeviceCodeDialog(u *UI) *deviceCodeDialog {
	d := &deviceCodeDialog{u: u}
	d.intro = widget.NewLabel("")
	d.intro.Wrapping = fyne.TextWrapWord
	d.start = widget.NewButtonWithIcon("Start Authentication", theme.LoginIcon(), d.begin)
	d.start.Importance = widget.HighImportance
	d.code = canvas.NewText("", theme.Color(theme.ColorNameForeground))
	d.code.TextSize = 40
	d.code.TextStyle = fyne.TextStyle{Monospace: true}
	d.code.Alignment = fyne.TextAlignCenter
	d.copyBtn = widget.NewButtonWithIcon("Copy code", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(d.prompt.UserCode)
	})
	d.link = widget.NewHyperlink("", nil)
	d.openBtn = widget.NewButtonWithIcon("Open", theme.ComputerIcon(), func() { u.openURL(d.prompt.VerificationURL) })
	d.countdown = widget.NewLabel("")
	d.codeBox = container.NewVBox(
		widget.NewLabel("1. Open this page in a browser (any device):"),
		container.NewHBox(d.link, d.openBtn),
		widget.NewLabel("2. Enter this code and sign in with the monitoring user's Teams account:"),
		d.code,
		container.NewCenter(d.copyBtn),
		d.countdown,
	)
	d.codeBox.Hide()
	d.result = widget.NewLabel("")
	d.result.Wrapping = fyne.TextWrapWord
	d.result.Hide()
	d.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), d.onCancel)
	d.closeBtn = widget.NewButtonWithIcon("Close", theme.ConfirmIcon(), func() { d.hide() })
	d.closeBtn.Hide()
	d.body = container.NewVBox(d.intro, container.NewCenter(d.start), d.codeBox, d.result,
		container.NewHBox(layoutSpacer(), d.cancel, d.closeBtn))
	d.makeDialog("Add Monitoring User")
	return d
}

// makeDialog wraps the body in a dialog titled title (fyne dialogs have no
// SetTitle, so each opening makes a new one around the same body).
func (d *deviceCodeDialog) makeDialog(title string) {
	if d.dlg != nil {
		d.dlg.Hide()
	}
	d.dlg = dialog.NewCustomWithoutButtons(title, d.body, d.u.main)
	d.dlg.Resize(fyne.NewSize(560, 440))
}

func layoutSpacer() fyne.CanvasObject { return widget.NewLabel("") }

// open shows the first step; userID "" adds a new monitoring user.
func (d *deviceCodeDialog) open(userID string) {
	d.reset()
	d.userID = userID
	title, intro := "Add Monitoring User", "Sign in the Teams account whose chats carry the emergency-call messages. Click Start Authentication to get a one-time code."
	if userID != "" {
		title, intro = "Re-authenticate", "Sign the monitoring user in again to renew its token. Click Start Authentication to get a one-time code."
	}
	d.makeDialog(title)
	d.intro.SetText(intro)
	d.u.ShowPage(PageTeams)
	d.dlg.Show()
}

func (d *deviceCodeDialog) reset() {
	d.stopTicker()
	d.waiting = false
	d.prompt = engine.DeviceCode{}
	d.start.Show()
	d.start.Enable()
	d.codeBox.Hide()
	d.result.Hide()
	d.cancel.Show()
	d.closeBtn.Hide()
}

func (d *deviceCodeDialog) begin() {
	d.start.Disable()
	d.intro.SetText("Asking Microsoft for a code…")
	d.waiting = true
	id := d.userID
	d.u.async(func() {
		var err error
		ctx := context.Background()
		if id == "" {
			err = d.u.desk.AddMonitoringUser(ctx)
		} else {
			err = d.u.desk.Reauthenticate(ctx, id)
		}
		if err != nil {
			fyne.Do(func() { d.fail(err.Error(), "") })
		}
	})
}

// showCode shows a code from the engine (opening the dialog if the engine
// started the sign-in itself).
func (d *deviceCodeDialog) showCode(p engine.DeviceCode) {
	if !d.waiting {
		d.reset()
		d.dlg.Show()
	}
	d.waiting = true
	d.prompt = p
	d.start.Hide()
	d.intro.SetText("Waiting for the sign-in to finish in the browser…")
	d.code.Text = p.UserCode
	d.code.Refresh()
	d.link.SetText(p.VerificationURL)
	d.link.SetURLFromString(p.VerificationURL)
	d.codeBox.Show()
	d.tick()
	d.stopTicker()
	d.stop = everySecond(d.tick)
}

// tick updates the countdown to the code's expiry.
func (d *deviceCodeDialog) tick() {
	left := d.prompt.ExpiresAt.Sub(d.u.o.Now())
	if left <= 0 {
		d.countdown.SetText("The code has expired: click Cancel and start again.")
		d.countdown.Importance = widget.DangerImportance
		d.countdown.Refresh()
		d.stopTicker()
		return
	}
	s := int(left.Round(time.Second) / time.Second)
	d.countdown.Importance = widget.MediumImportance
	d.countdown.SetText(fmt.Sprintf("The code expires in %d:%02d", s/60, s%60))
}

func (d *deviceCodeDialog) stopTicker() {
	if d.stop != nil {
		close(d.stop)
		d.stop = nil
	}
}

func (d *deviceCodeDialog) finished(e engine.SignInFinished) {
	if e.Err != nil {
		if !d.waiting {
			return // cancelled here: the engine's "cancelled" needs no dialog
		}
		d.fail(e.Err.Error(), e.Fix)
		return
	}
	d.stopTicker()
	d.waiting = false
	d.codeBox.Hide()
	d.start.Hide()
	d.intro.SetText("Authentication successful")
	d.intro.TextStyle.Bold = true
	d.intro.Refresh()
	d.result.Importance = widget.SuccessImportance
	d.result.SetText(fmt.Sprintf("Signed in as %s (%s). Alerts from this user's chats now reach this desk.", e.User.DisplayName, e.User.UPN))
	d.result.Show()
	d.cancel.Hide()
	d.closeBtn.Show()
	d.dlg.Show()
}

func (d *deviceCodeDialog) fail(msg, fix string) {
	d.stopTicker()
	d.waiting = false
	d.codeBox.Hide()
	d.start.Hide()
	d.intro.SetText("Authentication failed")
	d.result.Importance = widget.DangerImportance
	if fix != "" {
		msg += "\n\nWhat to do: " + fix
	}
	d.result.SetText(msg)
	d.result.Show()
	d.cancel.Hide()
	d.closeBtn.Show()
	d.dlg.Show()
}

func (d *deviceCodeDialog) onCancel() {
	if d.waiting {
		d.u.desk.CancelSignIn()
	}
	d.hide()
}

func (d *deviceCodeDialog) hide() {
	d.stopTicker()
	d.waiting = false
	d.dlg.Hide()
}
