package store

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"emergencydesk/core/alert"
)

var csvHeader = []string{"id", "created_at", "received_at", "caller_name", "caller_id", "number", "location", "is_test",
	"importance", "chat_id", "web_url", "monitoring_user", "source", "acknowledged_by", "acknowledged_at", "ack_comment", "text"}

// ExportCSV writes the alerts f selects as CSV (newest first), streaming
// rows. Cells that a spreadsheet would run as a formula are prefixed with
// an apostrophe.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("export CSV: %w", err)
	}
	err := s.each(ctx, f, func(a alert.Alert) error {
		var by, at, comment string
		if a.Acknowledged != nil {
			by, at, comment = a.Acknowledged.By, fmtTime(a.Acknowledged.At), a.Acknowledged.Comment
		}
		row := []string{a.ID, fmtTime(a.CreatedAt), fmtTime(a.ReceivedAt), a.CallerName, a.CallerID, a.Number, a.Location,
			strconv.FormatBool(a.IsTest), a.Importance, a.ChatID, a.WebURL, a.MonitoringUser, string(a.Source), by, at, comment, a.Text}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("export CSV: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export CSV: %w", err)
	}
	return nil
}

// csvSafe defuses spreadsheet formula injection (OWASP): a cell starting
// with = + - @ (or tab / carriage return, which some programs skip before
// one of those) gets a leading apostrophe.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
