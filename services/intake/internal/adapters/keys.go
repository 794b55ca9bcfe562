package adapters

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/pii"
)

// Keys is kit/pii's keyring with the sealing side made for a filing storm:
// every filing from a new customer needs a data key, and one Postgres round
// trip per key is what bounded filings per second. Concurrent first contacts
// share one INSERT … ON CONFLICT (batcher: group commit). Keys are cached
// like pii.Keyring caches them.
// Opening and erasing are pii.Keyring's own; the table, the wrapping (AES-GCM
// under the KEK, the key id as associated data) and the sealed format are
// the same, so either opens what the other sealed.
//
// This belongs in kit/pii (a batched Seal); it lives here because intake is
// its only heavy sealer so far.
type Keys struct {
	*pii.Keyring
	pool  *pgxpool.Pool
	table string
	kek   cipher.AEAD
	ttl   time.Duration

	cmu   sync.Mutex
	cache map[custKey]sealKey

	creating batcher[custKey, keyResult]
}

type custKey struct{ shop, customer string }

type sealKey struct {
	id      string
	aead    cipher.AEAD // nil: erased
	expires time.Time
}

// keyResult is one customer's key out of a batch, or why it cannot be used.
type keyResult struct {
	key sealKey
	err error
}

// maxBatch bounds one statement's rows; maxKeysCached the cache, which a
// season of mostly one-time customers would otherwise grow without end.
const (
	maxBatch      = 500
	maxKeysCached = 50_000
	keysTTL       = time.Minute
)

// NewKeys returns the keyring over <schema>.customer_keys.
func NewKeys(pool *pgxpool.Pool, schema string, kek []byte) (*Keys, error) {
	ring, err := pii.NewKeyring(pool, schema, kek, pii.Options{CacheTTL: keysTTL})
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	k := &Keys{Keyring: ring, pool: pool, table: schema + ".customer_keys", kek: aead, ttl: keysTTL,
		cache: map[custKey]sealKey{}}
	k.creating = batcher[custKey, keyResult]{run: k.createKeys, max: maxBatch}
	return k, nil
}

// Seal encrypts pd with the customer's key, creating the key on first use,
// as pii.Keyring.Seal does.
func (k *Keys) Seal(ctx context.Context, shopID, customerRef string, pd *complaintv1.PersonalData) (*complaintv1.Sealed, error) {
	if pd == nil || proto.Size(pd) == 0 {
		return nil, nil
	}
	key, err := k.customerKey(ctx, custKey{shopID, customerRef})
	if err != nil {
		return nil, err
	}
	plain, err := proto.Marshal(pd)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal: %w", err)
	}
	nonce := make([]byte, key.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return &complaintv1.Sealed{KeyId: key.id, Nonce: nonce, Ciphertext: key.aead.Seal(nil, nonce, plain, []byte(key.id))}, nil
}

// Erase destroys the customer's key (pii.Keyring.Erase) and forgets it here.
func (k *Keys) Erase(ctx context.Context, shopID, customerRef string) (string, error) {
	k.cmu.Lock()
	delete(k.cache, custKey{shopID, customerRef})
	k.cmu.Unlock()
	id, err := k.Keyring.Erase(ctx, shopID, customerRef)
	// Forget again: a Seal in between may have cached the key just erased.
	k.cmu.Lock()
	delete(k.cache, custKey{shopID, customerRef})
	k.cmu.Unlock()
	return id, err
}

func (k *Keys) customerKey(ctx context.Context, ck custKey) (sealKey, error) {
	now := time.Now()
	k.cmu.Lock()
	c, ok := k.cache[ck]
	k.cmu.Unlock()
	if !ok || now.After(c.expires) {
		w, err := k.fetch(ctx, ck)
		if err != nil {
			return sealKey{}, err
		}
		c = w
	}
	if c.aead == nil {
		return sealKey{}, pii.ErrErased
	}
	return c, nil
}

// fetch gets the customer's key from the batch it joins.
func (k *Keys) fetch(ctx context.Context, ck custKey) (sealKey, error) {
	r, ok, err := k.creating.get(ctx, ck)
	switch {
	case err != nil:
		return sealKey{}, err
	case !ok:
		return sealKey{}, fmt.Errorf("keys: no key row for %s/%s after creating it", ck.shop, ck.customer)
	}
	return r.key, r.err
}

// createKeys creates the batch's missing keys in one statement and reads
// the keys that existed already (or that a concurrent batch of another
// replica inserted: in READ COMMITTED only a new statement sees those).
func (k *Keys) createKeys(ctx context.Context, cks []custKey) (map[custKey]keyResult, error) {
	shops, custs, ids, wrapped := make([]string, 0, len(cks)), make([]string, 0, len(cks)),
		make([]uuid.UUID, 0, len(cks)), make([][]byte, 0, len(cks))
	for _, ck := range cks {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("keys: new key: %w", err)
		}
		id := uuid.New()
		nonce := make([]byte, k.kek.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("keys: nonce: %w", err)
		}
		shops, custs, ids = append(shops, ck.shop), append(custs, ck.customer), append(ids, id)
		wrapped = append(wrapped, k.kek.Seal(nonce, nonce, raw, []byte(id.String())))
	}
	out := make(map[custKey]keyResult, len(cks))
	rows, err := k.pool.Query(ctx, `INSERT INTO `+k.table+` (shop_id, customer_ref, key_id, wrapped_key)
		SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bytea[])
		ON CONFLICT (shop_id, customer_ref) DO NOTHING
		RETURNING shop_id, customer_ref, key_id::text, wrapped_key`, shops, custs, ids, wrapped)
	if err == nil {
		err = k.take(out, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: create keys: %w", err)
	}
	if len(out) == len(cks) {
		return out, nil
	}
	var missShops, missCusts []string
	for _, ck := range cks {
		if _, ok := out[ck]; !ok {
			missShops, missCusts = append(missShops, ck.shop), append(missCusts, ck.customer)
		}
	}
	rows, err = k.pool.Query(ctx, `SELECT t.shop_id, t.customer_ref, t.key_id::text, t.wrapped_key FROM `+k.table+` t
		JOIN unnest($1::text[], $2::text[]) AS w(shop_id, customer_ref) USING (shop_id, customer_ref)`, missShops, missCusts)
	if err == nil {
		err = k.take(out, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read keys: %w", err)
	}
	return out, nil
}

type keyRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// take unwraps the rows' keys into out and caches them.
func (k *Keys) take(out map[custKey]keyResult, rows keyRows) error {
	defer rows.Close()
	for rows.Next() {
		var ck custKey
		var id string
		var stored []byte
		if err := rows.Scan(&ck.shop, &ck.customer, &id, &stored); err != nil {
			return err
		}
		r := keyResult{key: sealKey{id: id, expires: time.Now().Add(k.ttl)}}
		if stored != nil {
			r.key.aead, r.err = k.unwrap(id, stored)
		}
		out[ck] = r
		if r.err == nil {
			k.remember(ck, r.key)
		}
	}
	return rows.Err()
}

func (k *Keys) remember(ck custKey, c sealKey) {
	k.cmu.Lock()
	defer k.cmu.Unlock()
	if len(k.cache) >= maxKeysCached {
		now := time.Now()
		for x, e := range k.cache {
			if now.After(e.expires) {
				delete(k.cache, x)
			}
		}
		if len(k.cache) >= maxKeysCached*3/4 {
			k.cache = map[custKey]sealKey{}
		}
	}
	k.cache[ck] = c
}

func (k *Keys) unwrap(id string, wrapped []byte) (cipher.AEAD, error) {
	n := k.kek.NonceSize()
	if len(wrapped) < n {
		return nil, fmt.Errorf("keys: wrapped key %s is truncated", id)
	}
	raw, err := k.kek.Open(nil, wrapped[:n], wrapped[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap key %s (wrong KESU_PII_KEK?): %w", id, err)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return cipher.NewGCM(block)
}
