package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kesu315/kesu/services/kit/auth"
)

var hmacKey = []byte("test-hmac-key-that-is-long-enough-000")

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newVerifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mint(t *testing.T, c auth.Claims, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Mint(hmacKey, c, ttl)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

var agent = auth.Identity{Subject: "agent-007", Role: auth.RoleAgent, Tier: 2, Skills: []string{"logistics", "vip"}, Shops: []string{"shop-tmall-1"}}

func TestMintVerifyRoundTrip(t *testing.T) {
	v := newVerifier(t, auth.Config{HMACKey: hmacKey})
	id, err := v.Verify(testContext(t), mint(t, auth.ClaimsFor(agent), time.Hour))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != agent.Subject || id.Role != agent.Role || id.Tier != 2 || !slices.Equal(id.Skills, agent.Skills) || !slices.Equal(id.Shops, agent.Shops) {
		t.Fatalf("identity = %+v, want %+v", id, agent)
	}
	if !id.HasSkill("vip") || id.HasSkill("legal") || !id.InShop("shop-tmall-1") || id.InShop("shop-jd-1") || !id.Is(auth.RoleSupervisor, auth.RoleAgent) {
		t.Errorf("identity helpers disagree with the claims: %+v", id)
	}
	if all := (auth.Identity{Subject: "s", Role: auth.RoleSupervisor}); !all.InShop("anything") {
		t.Error("an identity without shop scope must see every shop")
	}
}

func TestMintRefusesBadClaims(t *testing.T) {
	tests := map[string]auth.Claims{
		"no subject":       {Role: auth.RoleBI},
		"unknown role":     {Role: "ceo", RegisteredClaims: jwt.RegisteredClaims{Subject: "x"}},
		"agent no tier":    {Role: auth.RoleAgent, RegisteredClaims: jwt.RegisteredClaims{Subject: "x"}},
		"agent tier 4":     {Role: auth.RoleAgent, Tier: 4, RegisteredClaims: jwt.RegisteredClaims{Subject: "x"}},
		"no ttl no expiry": {Role: auth.RoleBI, RegisteredClaims: jwt.RegisteredClaims{Subject: "x"}},
	}
	for name, c := range tests {
		ttl := time.Hour
		if name == "no ttl no expiry" {
			ttl = 0
		}
		if _, err := auth.Mint(hmacKey, c, ttl); err == nil {
			t.Errorf("%s: Mint succeeded", name)
		}
	}
}

func signHS(t *testing.T, key []byte, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	v := newVerifier(t, auth.Config{HMACKey: hmacKey, Issuer: "kesu-dev", Audience: "kesu"})
	good := auth.ClaimsFor(auth.Identity{Subject: "sup-1", Role: auth.RoleSupervisor})
	good.Issuer, good.Audience = "kesu-dev", jwt.ClaimStrings{"kesu"}
	exp := jwt.NewNumericDate(time.Now().Add(time.Hour))

	if _, err := v.Verify(testContext(t), mint(t, good, time.Hour)); err != nil {
		t.Fatalf("the control token is refused: %v", err)
	}
	with := func(f func(*auth.Claims)) auth.Claims { c := good; f(&c); return c }
	tests := map[string]string{
		"expired": mint(t, good, -time.Hour),
		"wrong key": func() string {
			tok, _ := auth.Mint([]byte("another-key-that-is-also-long-enough"), good, time.Hour)
			return tok
		}(),
		"no expiry":    signHS(t, hmacKey, with(func(c *auth.Claims) { c.ExpiresAt = nil })),
		"wrong issuer": mint(t, with(func(c *auth.Claims) { c.Issuer = "evil" }), time.Hour),
		"wrong aud":    mint(t, with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other"} }), time.Hour),
		"unknown role": signHS(t, hmacKey, with(func(c *auth.Claims) { c.Role = "root"; c.ExpiresAt = exp })),
		"agent tier 0": signHS(t, hmacKey, with(func(c *auth.Claims) { c.Role = auth.RoleAgent; c.ExpiresAt = exp })),
		"alg none": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, with(func(c *auth.Claims) { c.ExpiresAt = exp })).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(),
		"garbage": "not.a.jwt",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(testContext(t), tok)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
	if _, err := v.Verify(testContext(t), ""); !errors.Is(err, auth.ErrNoToken) {
		t.Errorf("empty token: %v, want ErrNoToken", err)
	}
}

// jwksServer serves a mutable key set on 127.0.0.1 and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]string
	fetches atomic.Int32
	down    atomic.Bool
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(k map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]string {
	raw, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	n := (len(raw) - 1) / 2
	return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, id auth.Identity) string {
	t.Helper()
	c := auth.ClaimsFor(id)
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeNow is a wall clock the test moves, to step past refresh intervals.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) Now() time.Time      { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) Add(d time.Duration) { f.mu.Lock(); defer f.mu.Unlock(); f.t = f.t.Add(d) }

func TestJWKSVerification(t *testing.T) {
	ctx := testContext(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t)
	srv.add(rsaJWK("r1", &rsaKey.PublicKey))
	srv.add(ecJWK("e1", ecKey))
	srv.add(map[string]string{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"}) // unsupported: skipped

	now := &fakeNow{t: time.Now()}
	v := newVerifier(t, auth.Config{JWKSURL: srv.URL, Now: now.Now, RefreshInterval: 10 * time.Minute, MinRefreshInterval: time.Minute})
	pr := auth.Identity{Subject: "pr-1", Role: auth.RolePR}

	// RS256 and ES256 both verify, from one fetch.
	for name, tok := range map[string]string{
		"RS256": sign(t, jwt.SigningMethodRS256, "r1", rsaKey, pr),
		"ES256": sign(t, jwt.SigningMethodES256, "e1", ecKey, pr),
	} {
		if id, err := v.Verify(ctx, tok); err != nil || id.Subject != "pr-1" {
			t.Fatalf("%s: Verify = %+v, %v", name, id, err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetched the JWKS %d times, want once (cached)", n)
	}

	// Tokens that must not pass even with a reachable JWKS.
	for name, tok := range map[string]string{
		"HS256 with no HMAC key configured": signHS(t, hmacKey, auth.ClaimsFor(pr)),
		"ES256 under the RSA kid":           sign(t, jwt.SigningMethodES256, "r1", ecKey, pr),
		"signed by a key not in the set":    sign(t, jwt.SigningMethodES256, "e1", rotated, pr),
	} {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: Verify = %v, want ErrInvalidToken", name, err)
		}
	}

	// A rotated key with an unknown kid: no refetch within MinRefreshInterval
	// (forged kids must not hammer the IdP), picked up after it.
	srv.add(ecJWK("e2", rotated))
	newTok := sign(t, jwt.SigningMethodES256, "e2", rotated, pr)
	if _, err := v.Verify(ctx, newTok); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("unknown kid within the refresh gap: %v, want ErrUnknownKey", err)
	}
	now.Add(2 * time.Minute)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("rotated key after the refresh gap: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}

	// The IdP goes down: known keys keep working past their age (a refetch is
	// attempted and fails).
	srv.down.Store(true)
	now.Add(15 * time.Minute)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "r1", rsaKey, pr)); err != nil {
		t.Fatalf("cached key refused while the IdP is down: %v", err)
	}
	// Within the refresh gap the outage costs no further fetches.
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, "e1", ecKey, pr)); err != nil {
		t.Fatalf("cached key refused while the IdP is down: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3 (one failed refresh of the stale set)", n)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := newJWKSServer(t)
	srv.down.Store(true)
	v := newVerifier(t, auth.Config{JWKSURL: srv.URL})
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err := v.Verify(testContext(t), sign(t, jwt.SigningMethodES256, "e1", ecKey, auth.Identity{Subject: "b", Role: auth.RoleBI}))
	if !auth.IsUnavailable(err) || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("Verify with the IdP down = %v, want a JWKS availability error", err)
	}
}

func TestParseJWKSRejectsMalformedKeys(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := map[string]string{
		"not json":   `{"keys": [`,
		"no keys":    `{"keys": []}`,
		"small RSA":  `{"keys":[{"kty":"RSA","kid":"s","n":"` + b64(small.N.Bytes()) + `","e":"AQAB"}]}`,
		"bad base64": `{"keys":[{"kty":"RSA","kid":"b","n":"***","e":"AQAB"}]}`,
		"bad curve":  `{"keys":[{"kty":"EC","kid":"c","crv":"secp256k1","x":"AA","y":"AA"}]}`,
		"off curve":  `{"keys":[{"kty":"EC","kid":"o","crv":"P-256","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(make([]byte, 32)) + `"}]}`,
		"only enc":   `{"keys":[{"kty":"RSA","kid":"e","use":"enc","n":"AQAB","e":"AQAB"}]}`,
	}
	for name, doc := range tests {
		if _, err := auth.ParseJWKS([]byte(doc)); !errors.Is(err, auth.ErrJWKS) {
			t.Errorf("%s: ParseJWKS = %v, want ErrJWKS", name, err)
		}
	}
}

func TestNewVerifierNeedsAKey(t *testing.T) {
	for name, cfg := range map[string]auth.Config{
		"nothing": {},
		"bad url": {JWKSURL: "idp/jwks"},
		"ftp url": {JWKSURL: "ftp://idp/jwks"},
	} {
		if _, err := auth.NewVerifier(cfg); !errors.Is(err, auth.ErrConfig) {
			t.Errorf("%s: NewVerifier = %v, want ErrConfig", name, err)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := auth.Policy{
		"/kesu.routing.v1.RoutingService/*":             {auth.RoleAgent, auth.RoleSupervisor},
		"/kesu.routing.v1.RoutingService/ApproveRemedy": {auth.RoleSupervisor},
		"/kesu.reporting.v1.ReportingService/GetReport": {auth.RoleBI, auth.RolePR},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method string
		roles  []auth.Role
		found  bool
	}{
		{"/kesu.routing.v1.RoutingService/Claim", []auth.Role{auth.RoleAgent, auth.RoleSupervisor}, true},
		{"/kesu.routing.v1.RoutingService/ApproveRemedy", []auth.Role{auth.RoleSupervisor}, true},
		{"/kesu.reporting.v1.ReportingService/Export", nil, false},
	}
	for _, tt := range tests {
		roles, ok := p.Roles(tt.method)
		if ok != tt.found || !slices.Equal(roles, tt.roles) {
			t.Errorf("Roles(%s) = %v %v, want %v %v", tt.method, roles, ok, tt.roles, tt.found)
		}
	}
	bad := auth.Policy{"kesu.X/Y": {auth.RoleBI}, "/kesu.X/Z": {"wizard"}, "/kesu.X/W": {}}
	err := bad.Validate()
	for _, want := range []string{`"kesu.X/Y"`, `role "wizard"`, `"/kesu.X/W": no roles`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want mention of %s", err, want)
		}
	}
}

func TestAuthorize(t *testing.T) {
	v := newVerifier(t, auth.Config{HMACKey: hmacKey})
	a, err := auth.NewAuthorizer(v, auth.Policy{"/kesu.routing.v1.RoutingService/Claim": {auth.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	agentTok := mint(t, auth.ClaimsFor(agent), time.Hour)
	biTok := mint(t, auth.ClaimsFor(auth.Identity{Subject: "bi-1", Role: auth.RoleBI}), time.Hour)
	tests := []struct {
		name   string
		method string
		md     metadata.MD
		code   codes.Code
		msg    string
	}{
		{"health is public", "/grpc.health.v1.Health/Check", nil, codes.OK, ""},
		{"reflection is public", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", nil, codes.OK, ""},
		{"no token", "/kesu.routing.v1.RoutingService/Claim", nil, codes.Unauthenticated, "authorization: Bearer"},
		{"basic auth", "/kesu.routing.v1.RoutingService/Claim", metadata.Pairs("authorization", "Basic dXNlcjpwdw=="), codes.Unauthenticated, "Bearer"},
		{"bad token", "/kesu.routing.v1.RoutingService/Claim", metadata.Pairs("authorization", "Bearer x.y.z"), codes.Unauthenticated, "invalid token"},
		{"wrong role", "/kesu.routing.v1.RoutingService/Claim", metadata.Pairs("authorization", "Bearer "+biTok), codes.PermissionDenied, `role "bi" may not call /kesu.routing.v1.RoutingService/Claim (allowed: agent)`},
		{"no rule", "/kesu.routing.v1.RoutingService/Secret", metadata.Pairs("authorization", "Bearer "+agentTok), codes.PermissionDenied, "no access rule"},
		{"allowed", "/kesu.routing.v1.RoutingService/Claim", metadata.Pairs("authorization", "bearer "+agentTok), codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(testContext(t), tt.md)
			out, err := a.Authorize(ctx, tt.method)
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code = %s (%v), want %s", got, err, tt.code)
			}
			if tt.msg != "" && !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Errorf("message %q lacks %q", status.Convert(err).Message(), tt.msg)
			}
			if tt.name == "allowed" {
				if id, ok := auth.FromContext(out); !ok || id.Subject != agent.Subject {
					t.Errorf("identity in context = %+v %v", id, ok)
				}
			}
		})
	}
}
