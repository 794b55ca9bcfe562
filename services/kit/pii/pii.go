// Package pii seals personal data with a key of its own per customer and shreds it
// by deleting that key (DESIGN.md §2).
//
// Events are immutable and replayed for years, so personal data cannot be deleted
// from the stream. Instead every customer gets a random AES-256 data key; events
// carry their personal data sealed with it. Erasing the customer deletes the key,
// after which every copy of that data, in the stream, in backups and in replays,
// is unreadable. The data keys live in Postgres, wrapped (AES-GCM) by a
// key-encryption key (KEK) that never touches the database, so a database dump
// alone opens nothing.
package pii

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// ErrErased is returned when sealed data belongs to a customer whose key was erased.
var ErrErased = errors.New("personal data erased")

// ErrBadKEK is returned for a key-encryption key that is not 32 bytes.
var ErrBadKEK = errors.New("key-encryption key must be 32 bytes")

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Keyring seals and opens personal data with per-customer keys kept in
// <schema>.customer_keys, a table the owning service creates in its migrations:
//
//	CREATE TABLE <schema>.customer_keys (
//	    shop_id      text NOT NULL,
//	    customer_ref text NOT NULL,
//	    key_id       uuid NOT NULL UNIQUE,
//	    wrapped_key  bytea,                 -- NULL once erased
//	    created_at   timestamptz NOT NULL DEFAULT now(),
//	    erased_at    timestamptz,
//	    PRIMARY KEY (shop_id, customer_ref))
//
// It is safe for concurrent use.
type Keyring struct {
	pool   *pgxpool.Pool
	table  string
	kek    cipher.AEAD
	ttl    time.Duration
	now    func() time.Time
	mu     sync.Mutex
	byCust map[custKey]cached // (shop, customer) -> key, for sealing
	byID   map[string]cached  // key id -> key, for opening
}

type custKey struct{ shop, customer string }

type cached struct {
	id      string
	aead    cipher.AEAD // nil: erased
	expires time.Time
}

// Options tune a Keyring.
type Options struct {
	// CacheTTL bounds how long an unwrapped key is kept in memory. An erasure made
	// by another replica takes effect here within it (views show "erased" at once
	// anyway, from the PersonalDataErased event). Default one minute; negative
	// disables the cache.
	CacheTTL time.Duration
}

// NewKeyring returns a keyring over <schema>.customer_keys with the given 32-byte KEK.
func NewKeyring(pool *pgxpool.Pool, schema string, kek []byte, opts Options) (*Keyring, error) {
	if !identRe.MatchString(schema) {
		return nil, fmt.Errorf("pii: schema %q is not a plain identifier", schema)
	}
	if len(kek) != 32 {
		return nil, fmt.Errorf("pii: %w (got %d)", ErrBadKEK, len(kek))
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	ttl := opts.CacheTTL
	if ttl == 0 {
		ttl = time.Minute
	}
	return &Keyring{
		pool: pool, table: schema + ".customer_keys", kek: aead, ttl: ttl, now: time.Now,
		byCust: map[custKey]cached{}, byID: map[string]cached{},
	}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pii: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal encrypts pd with the customer's key, creating the key on first use.
// Sealing for an erased customer fails with ErrErased: once erased, a customer's
// new contacts must be filed under a new customer ref. A nil or empty pd seals to nil.
func (k *Keyring) Seal(ctx context.Context, shopID, customerRef string, pd *complaintv1.PersonalData) (*complaintv1.Sealed, error) {
	if pd == nil || proto.Size(pd) == 0 {
		return nil, nil
	}
	id, aead, err := k.customerKey(ctx, shopID, customerRef)
	if err != nil {
		return nil, err
	}
	plain, err := proto.Marshal(pd)
	if err != nil {
		return nil, fmt.Errorf("pii: marshal: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("pii: nonce: %w", err)
	}
	// The key id is authenticated with the data so a ciphertext cannot be moved
	// under another customer's key id.
	return &complaintv1.Sealed{KeyId: id, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plain, []byte(id))}, nil
}

// Open decrypts sealed data. It returns ErrErased when the key was erased. A nil
// Sealed opens to nil.
func (k *Keyring) Open(ctx context.Context, s *complaintv1.Sealed) (*complaintv1.PersonalData, error) {
	if s == nil || s.GetKeyId() == "" {
		return nil, nil
	}
	aead, err := k.keyByID(ctx, s.GetKeyId())
	if err != nil {
		return nil, err
	}
	if len(s.GetNonce()) != aead.NonceSize() {
		return nil, fmt.Errorf("pii: sealed data with key %s has a bad nonce", s.GetKeyId())
	}
	plain, err := aead.Open(nil, s.GetNonce(), s.GetCiphertext(), []byte(s.GetKeyId()))
	if err != nil {
		return nil, fmt.Errorf("pii: open with key %s: %w", s.GetKeyId(), err)
	}
	pd := &complaintv1.PersonalData{}
	if err := proto.Unmarshal(plain, pd); err != nil {
		return nil, fmt.Errorf("pii: unmarshal: %w", err)
	}
	return pd, nil
}

// Erase destroys the customer's key. It returns the key id (empty when the
// customer never had one) and is idempotent.
func (k *Keyring) Erase(ctx context.Context, shopID, customerRef string) (string, error) {
	var id string
	err := k.pool.QueryRow(ctx, `UPDATE `+k.table+` SET wrapped_key = NULL, erased_at = coalesce(erased_at, now())
		WHERE shop_id = $1 AND customer_ref = $2 RETURNING key_id::text`, shopID, customerRef).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// Record the erasure anyway so a later Seal cannot silently create a key.
		id = uuid.NewString()
		_, err = k.pool.Exec(ctx, `INSERT INTO `+k.table+` (shop_id, customer_ref, key_id, wrapped_key, erased_at)
			VALUES ($1, $2, $3, NULL, now()) ON CONFLICT (shop_id, customer_ref) DO UPDATE SET wrapped_key = NULL`,
			shopID, customerRef, id)
		if err != nil {
			return "", fmt.Errorf("pii: erase %s/%s: %w", shopID, customerRef, err)
		}
		k.forget(custKey{shopID, customerRef}, id)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pii: erase %s/%s: %w", shopID, customerRef, err)
	}
	k.forget(custKey{shopID, customerRef}, id)
	return id, nil
}

func (k *Keyring) forget(ck custKey, id string) {
	k.mu.Lock()
	delete(k.byCust, ck)
	delete(k.byID, id)
	k.mu.Unlock()
}

func (k *Keyring) lookup(m map[string]cached, id string) (cached, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := m[id]
	if ok && k.now().After(c.expires) {
		delete(m, id)
		return cached{}, false
	}
	return c, ok
}

func (k *Keyring) remember(ck custKey, c cached) {
	if k.ttl < 0 {
		return
	}
	c.expires = k.now().Add(k.ttl)
	k.mu.Lock()
	if len(k.byID) >= maxCached {
		k.sweep()
	}
	if ck != (custKey{}) {
		k.byCust[ck] = c
	}
	k.byID[c.id] = c
	k.mu.Unlock()
}

// maxCached bounds the key cache: a season brings millions of customers, most
// seen once, and an entry is otherwise dropped only when looked up again.
const maxCached = 50_000

// sweep drops expired entries, and everything when that frees too little;
// k.mu is held.
func (k *Keyring) sweep() {
	now := k.now()
	for id, c := range k.byID {
		if now.After(c.expires) {
			delete(k.byID, id)
		}
	}
	for ck, c := range k.byCust {
		if now.After(c.expires) {
			delete(k.byCust, ck)
		}
	}
	if len(k.byID) >= maxCached*3/4 {
		k.byID, k.byCust = map[string]cached{}, map[custKey]cached{}
	}
}

func (k *Keyring) customerKey(ctx context.Context, shopID, customerRef string) (string, cipher.AEAD, error) {
	ck := custKey{shopID, customerRef}
	k.mu.Lock()
	c, ok := k.byCust[ck]
	if ok && k.now().After(c.expires) {
		delete(k.byCust, ck)
		ok = false
	}
	k.mu.Unlock()
	if ok {
		if c.aead == nil {
			return "", nil, ErrErased
		}
		return c.id, c.aead, nil
	}

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("pii: new key: %w", err)
	}
	newID := uuid.New()
	wrapped, err := k.wrap(newID.String(), raw)
	if err != nil {
		return "", nil, err
	}
	// Insert, or read the key a concurrent first contact inserted. The read is
	// its own statement: in READ COMMITTED only a new statement's snapshot sees
	// the row whose insert made ours do nothing.
	var id string
	var stored []byte
	err = k.pool.QueryRow(ctx, `INSERT INTO `+k.table+` (shop_id, customer_ref, key_id, wrapped_key) VALUES ($1, $2, $3, $4)
		ON CONFLICT (shop_id, customer_ref) DO NOTHING RETURNING key_id::text, wrapped_key`,
		shopID, customerRef, newID, wrapped).Scan(&id, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		err = k.pool.QueryRow(ctx, `SELECT key_id::text, wrapped_key FROM `+k.table+` WHERE shop_id = $1 AND customer_ref = $2`,
			shopID, customerRef).Scan(&id, &stored)
	}
	if err != nil {
		return "", nil, fmt.Errorf("pii: key for %s/%s: %w", shopID, customerRef, err)
	}
	if stored == nil {
		k.remember(ck, cached{id: id})
		return "", nil, ErrErased
	}
	aead, err := k.unwrap(id, stored)
	if err != nil {
		return "", nil, err
	}
	k.remember(ck, cached{id: id, aead: aead})
	return id, aead, nil
}

func (k *Keyring) keyByID(ctx context.Context, id string) (cipher.AEAD, error) {
	if c, ok := k.lookup(k.byID, id); ok {
		if c.aead == nil {
			return nil, ErrErased
		}
		return c.aead, nil
	}
	var stored []byte
	err := k.pool.QueryRow(ctx, `SELECT wrapped_key FROM `+k.table+` WHERE key_id = $1`, id).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		// No key at all: never created here or removed entirely. Treat as erased:
		// the data cannot be read, and that is what a user must be shown.
		return nil, ErrErased
	}
	if err != nil {
		return nil, fmt.Errorf("pii: key %s: %w", id, err)
	}
	if stored == nil {
		k.remember(custKey{}, cached{id: id})
		return nil, ErrErased
	}
	aead, err := k.unwrap(id, stored)
	if err != nil {
		return nil, err
	}
	k.remember(custKey{}, cached{id: id, aead: aead})
	return aead, nil
}

func (k *Keyring) wrap(id string, raw []byte) ([]byte, error) {
	nonce := make([]byte, k.kek.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("pii: nonce: %w", err)
	}
	return k.kek.Seal(nonce, nonce, raw, []byte(id)), nil
}

func (k *Keyring) unwrap(id string, wrapped []byte) (cipher.AEAD, error) {
	n := k.kek.NonceSize()
	if len(wrapped) < n {
		return nil, fmt.Errorf("pii: wrapped key %s is truncated", id)
	}
	raw, err := k.kek.Open(nil, wrapped[:n], wrapped[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("pii: unwrap key %s (wrong KESU_PII_KEK?): %w", id, err)
	}
	return newAEAD(raw)
}
