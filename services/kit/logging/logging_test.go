package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/kesu315/kesu/services/kit/logging"
)

func TestLoggerRedactsPersonalData(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "intake", slog.LevelInfo)
	log.Info("complaint filed",
		"complaint_id", "0195f3a0-0000-7000-8000-000000000001",
		"queue_name", "vip",
		"name", "张三",
		"phone", "13800138000",
		slog.Group("customer", "address", "上海市浦东新区世纪大道100号", "email", "zhang@example.com", "tier", 2),
		"id_card", "110101199003077777",
		"description", "快递丢了，电话13800138000",
		"customer_phone", "13900139000",
		"Text", "大写键也要遮住",
	)
	out := buf.String()
	for _, secret := range []string{"张三", "13800138000", "上海市", "zhang@example.com", "110101199003077777", "快递丢了", "13900139000", "大写键"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line leaks %q: %s", secret, out)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, out)
	}
	checks := map[string]any{
		"service":      "intake",
		"msg":          "complaint filed",
		"complaint_id": "0195f3a0-0000-7000-8000-000000000001",
		"queue_name":   "vip",
		"name":         logging.Redacted,
		"phone":        logging.Redacted,
	}
	for k, want := range checks {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	cust, _ := rec["customer"].(map[string]any)
	if cust["address"] != logging.Redacted || cust["tier"] != float64(2) {
		t.Errorf("customer group = %v, want address redacted and tier kept", cust)
	}
}

func TestLoggerLevel(t *testing.T) {
	tests := []struct {
		level   slog.Level
		logged  []string
		dropped []string
	}{
		{slog.LevelInfo, []string{"info", "warn"}, []string{"debug"}},
		{slog.LevelDebug, []string{"debug", "info"}, nil},
		{slog.LevelError, []string{"error"}, []string{"warn", "info"}},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			log := logging.New(&buf, "routing", tt.level)
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			out := buf.String()
			for _, m := range tt.logged {
				if !strings.Contains(out, `"msg":"`+m+`"`) {
					t.Errorf("level %s dropped %q", tt.level, m)
				}
			}
			for _, m := range tt.dropped {
				if strings.Contains(out, `"msg":"`+m+`"`) {
					t.Errorf("level %s logged %q", tt.level, m)
				}
			}
		})
	}
}

func TestIsPersonal(t *testing.T) {
	tests := map[string]bool{
		"name": true, "Phone": true, "shipping_address": true, "contact_email": true, "id_card": true,
		"description": true, "text": true, "authorization": true,
		"service": false, "queue_name": false, "shop_id": false, "complaint_id": false, "err": false, "method": false,
	}
	for key, want := range tests {
		if got := logging.IsPersonal(key); got != want {
			t.Errorf("IsPersonal(%q) = %v, want %v", key, got, want)
		}
	}
}
