package pii

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newKeyring(t *testing.T, opts Options) (*Keyring, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.NewDB(t)
	ctx := testCtx(t)
	for _, q := range []string{
		`CREATE SCHEMA svc`,
		`CREATE TABLE svc.customer_keys (shop_id text NOT NULL, customer_ref text NOT NULL,
			key_id uuid NOT NULL UNIQUE, wrapped_key bytea, created_at timestamptz NOT NULL DEFAULT now(),
			erased_at timestamptz, PRIMARY KEY (shop_id, customer_ref))`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	k, err := NewKeyring(pool, "svc", make([]byte, 32), opts)
	if err != nil {
		t.Fatal(err)
	}
	return k, pool
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSealOpenRoundTrip(t *testing.T) {
	k, pool := newKeyring(t, Options{})
	ctx := testCtx(t)
	pd := &complaintv1.PersonalData{Name: "王小明", Phone: "13800001234", Text: "快递员态度恶劣"}
	s, err := k.Seal(ctx, "shop", "cust-1", pd)
	if err != nil {
		t.Fatal(err)
	}
	if string(s.GetCiphertext()) == "" || proto.Equal(s, &complaintv1.Sealed{}) {
		t.Fatal("nothing sealed")
	}
	// A fresh keyring (another replica, cold cache) opens it from Postgres.
	k2, err := NewKeyring(pool, "svc", make([]byte, 32), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := k2.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, pd) {
		t.Fatalf("opened %v, want %v", got, pd)
	}
	// The database holds no usable key without the KEK.
	other := make([]byte, 32)
	other[0] = 1
	k3, _ := NewKeyring(pool, "svc", other, Options{})
	if _, err := k3.Open(ctx, s); err == nil || errors.Is(err, ErrErased) {
		t.Fatalf("opened with the wrong KEK: %v", err)
	}
}

func TestEraseShredsEveryCopy(t *testing.T) {
	k, pool := newKeyring(t, Options{})
	ctx := testCtx(t)
	s1, _ := k.Seal(ctx, "shop", "cust-1", &complaintv1.PersonalData{Phone: "13800001234"})
	s2, _ := k.Seal(ctx, "shop", "cust-1", &complaintv1.PersonalData{Text: "second contact"})
	keep, _ := k.Seal(ctx, "shop", "cust-2", &complaintv1.PersonalData{Text: "someone else"})
	if s1.GetKeyId() != s2.GetKeyId() {
		t.Fatal("one customer, two keys")
	}
	id, err := k.Erase(ctx, "shop", "cust-1")
	if err != nil || id != s1.GetKeyId() {
		t.Fatalf("erase: %q %v", id, err)
	}
	for _, s := range []*complaintv1.Sealed{s1, s2} {
		if _, err := k.Open(ctx, s); !errors.Is(err, ErrErased) {
			t.Fatalf("open after erase: %v, want ErrErased", err)
		}
	}
	// Another replica with a warm cache of its own: fresh keyrings read Postgres.
	k2, _ := NewKeyring(pool, "svc", make([]byte, 32), Options{CacheTTL: -1})
	if _, err := k2.Open(ctx, s1); !errors.Is(err, ErrErased) {
		t.Fatalf("other replica: %v, want ErrErased", err)
	}
	if _, err := k.Seal(ctx, "shop", "cust-1", &complaintv1.PersonalData{Text: "new"}); !errors.Is(err, ErrErased) {
		t.Fatalf("seal for erased customer: %v, want ErrErased", err)
	}
	if _, err := k.Open(ctx, keep); err != nil {
		t.Fatalf("other customer affected: %v", err)
	}
	if id, err := k.Erase(ctx, "shop", "never-seen"); err != nil || id != "" {
		t.Fatalf("erase unknown: %q %v", id, err)
	}
	if _, err := k.Seal(ctx, "shop", "never-seen", &complaintv1.PersonalData{Text: "x"}); !errors.Is(err, ErrErased) {
		t.Fatalf("erased-before-first-contact customer got a key: %v", err)
	}
}

func TestConcurrentFirstContactsShareOneKey(t *testing.T) {
	k, pool := newKeyring(t, Options{CacheTTL: -1})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := k.Seal(ctx, "shop", "cust-race", &complaintv1.PersonalData{Text: "hi"})
			errs[i] = err
			ids[i] = s.GetKeyId()
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("seal %d: key %q err %v (first %q)", i, ids[i], errs[i], ids[0])
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM svc.customer_keys`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d keys stored (%v), want 1", n, err)
	}
}

func TestMask(t *testing.T) {
	got := Mask(&complaintv1.PersonalData{Name: "张三丰", Phone: "+86 138-0000-1234", Email: "wang@example.com", Address: "上海市浦东新区世纪大道100号", Text: "secret"})
	want := &complaintv1.PersonalData{Name: "张**", Phone: "138****1234", Email: "w***@example.com", Address: "上海市浦东新****"}
	if !proto.Equal(got, want) {
		t.Fatalf("Mask = %v, want %v", got, want)
	}
	if MaskPhone("13800001234") != "138****1234" {
		t.Fatalf("MaskPhone = %s", MaskPhone("13800001234"))
	}
}

func TestKeyCacheStaysBounded(t *testing.T) {
	k, _ := newKeyring(t, Options{})
	for i := range maxCached + 10 {
		k.remember(custKey{"shop", fmt.Sprint(i)}, cached{id: fmt.Sprint(i)})
	}
	if n := len(k.byID); n > maxCached {
		t.Fatalf("cache holds %d keys, bound %d", n, maxCached)
	}
}
