package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Policy maps gRPC methods to the roles allowed to call them. A key is a
// full method ("/kesu.routing.v1.RoutingService/Claim") or a whole service
// ("/kesu.routing.v1.RoutingService/*"); the full method wins. A method that
// matches no key is refused: a new RPC is closed until someone decides who
// may call it.
type Policy map[string][]Role

// Validate checks every key is a method or service pattern and every role
// is known.
func (p Policy) Validate() error {
	var errs []error
	for key, roles := range p {
		svc, method, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/")
		if !strings.HasPrefix(key, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") {
			errs = append(errs, fmt.Errorf("%w: policy key %q: want /package.Service/Method or /package.Service/*", ErrConfig, key))
		}
		if len(roles) == 0 {
			errs = append(errs, fmt.Errorf("%w: policy key %q: no roles (omit the key to deny everyone)", ErrConfig, key))
		}
		for _, r := range roles {
			if !r.Valid() {
				errs = append(errs, fmt.Errorf("%w: policy key %q: role %q: must be one of %v", ErrConfig, key, r, Roles))
			}
		}
	}
	return errors.Join(errs...)
}

// Roles returns the roles allowed to call fullMethod and whether any rule
// matched.
func (p Policy) Roles(fullMethod string) ([]Role, bool) {
	if roles, ok := p[fullMethod]; ok {
		return roles, true
	}
	if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
		roles, ok := p[fullMethod[:i]+"/*"]
		return roles, ok
	}
	return nil, false
}

// publicServices need no token: probes and tooling must reach them.
var publicServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// IsPublic reports whether fullMethod is callable without a token (the gRPC
// health and reflection services).
func IsPublic(fullMethod string) bool {
	return slices.ContainsFunc(publicServices, func(p string) bool { return strings.HasPrefix(fullMethod, p) })
}

// Authorizer authenticates calls and applies a Policy.
type Authorizer struct {
	verifier *Verifier
	policy   Policy
}

// NewAuthorizer returns an Authorizer after validating policy.
func NewAuthorizer(v *Verifier, policy Policy) (*Authorizer, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil verifier", ErrConfig)
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	return &Authorizer{verifier: v, policy: policy}, nil
}

// Authorize authenticates the call in ctx and checks the policy for
// fullMethod. It returns ctx with the caller's Identity, or a gRPC status
// error: Unauthenticated for a missing or bad token, PermissionDenied for
// a role the policy does not allow, Unavailable when the keys cannot be
// fetched.
func (a *Authorizer) Authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	if IsPublic(fullMethod) {
		return ctx, nil
	}
	token, err := bearer(ctx)
	if err != nil {
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	}
	id, err := a.verifier.Verify(ctx, token)
	switch {
	case IsUnavailable(err):
		return ctx, status.Error(codes.Unavailable, "cannot verify the token now: identity provider keys unavailable")
	case err != nil:
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	}
	roles, ok := a.policy.Roles(fullMethod)
	if !ok {
		return ctx, status.Errorf(codes.PermissionDenied, "%s has no access rule: denied to every role", fullMethod)
	}
	if !slices.Contains(roles, id.Role) {
		return ctx, status.Errorf(codes.PermissionDenied, "role %q may not call %s (allowed: %s)", id.Role, fullMethod, joinRoles(roles))
	}
	return WithIdentity(ctx, id), nil
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func bearer(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return "", fmt.Errorf("%w: send metadata \"authorization: Bearer <jwt>\"", ErrNoToken)
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", fmt.Errorf("%w: authorization metadata must be \"Bearer <jwt>\"", ErrNoToken)
	}
	return strings.TrimSpace(token), nil
}

// UnaryInterceptor authorizes unary calls.
func (a *Authorizer) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.Authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authorizes streaming calls.
func (a *Authorizer) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.Authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
	}
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// Bearer returns per-call credentials sending token as
// "authorization: Bearer <token>". They are allowed on plaintext
// connections, which dev and tests use; use TLS in production.
func Bearer(token string) credentials.PerRPCCredentials { return bearerCreds(token) }

type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerCreds) RequireTransportSecurity() bool { return false }
