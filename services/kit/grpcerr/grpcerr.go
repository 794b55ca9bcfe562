// Package grpcerr builds gRPC status errors that carry google.rpc error
// details, so clients get machine-readable reasons (which field, which
// precondition, which resource) and not only a message. Services map their
// domain errors to these in their ports layer.
package grpcerr

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// Domain is the ErrorInfo domain of every Kesu error.
const Domain = "kesu"

// Violations collects field violations of one request, so a client sees
// every problem at once instead of fixing them one round trip at a time.
// The zero value is ready to use.
type Violations struct {
	list []*errdetails.BadRequest_FieldViolation
}

// Add records that field (a dot path such as "customer.phone" or
// "items[2].sku") is invalid for reason.
func (v *Violations) Add(field, reason string) {
	v.list = append(v.list, &errdetails.BadRequest_FieldViolation{Field: field, Description: reason})
}

// Addf is Add with a formatted reason.
func (v *Violations) Addf(field, format string, args ...any) {
	v.Add(field, fmt.Sprintf(format, args...))
}

// Len returns the number of violations.
func (v *Violations) Len() int { return len(v.list) }

// Err returns nil without violations, else an InvalidArgument status whose
// message lists them and whose details hold a google.rpc.BadRequest.
func (v *Violations) Err() error {
	if len(v.list) == 0 {
		return nil
	}
	parts := make([]string, len(v.list))
	for i, fv := range v.list {
		parts[i] = fv.Field + ": " + fv.Description
	}
	return withDetails(codes.InvalidArgument, "invalid request: "+strings.Join(parts, "; "),
		&errdetails.BadRequest{FieldViolations: v.list})
}

// InvalidArgument returns an InvalidArgument status for one bad field.
func InvalidArgument(field, reason string) error {
	var v Violations
	v.Add(field, reason)
	return v.Err()
}

// FieldViolation is one bad field of a request, as a client reads it back.
type FieldViolation struct {
	Field       string
	Description string
}

// FieldViolations returns the field violations carried by err (nil if none).
func FieldViolations(err error) []FieldViolation {
	br, ok := Detail[*errdetails.BadRequest](err)
	if !ok {
		return nil
	}
	out := make([]FieldViolation, len(br.GetFieldViolations()))
	for i, fv := range br.GetFieldViolations() {
		out[i] = FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()}
	}
	return out
}

// FailedPrecondition returns a FailedPrecondition status with a
// google.rpc.PreconditionFailure: typ is a short upper-case kind
// ("STATE", "TIER_CAP"), subject what failed it ("complaint/0195…"),
// description a sentence for humans.
func FailedPrecondition(typ, subject, description string) error {
	return withDetails(codes.FailedPrecondition, description,
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: typ, Subject: subject, Description: description},
		}})
}

// NotFound returns a NotFound status with a google.rpc.ResourceInfo.
func NotFound(resourceType, name string) error {
	return withDetails(codes.NotFound, fmt.Sprintf("%s %q not found", resourceType, name),
		&errdetails.ResourceInfo{ResourceType: resourceType, ResourceName: name, Description: "not found"})
}

// PermissionDenied returns a PermissionDenied status with a
// google.rpc.ErrorInfo; reason is UPPER_SNAKE_CASE (e.g. "ABOVE_TIER_CAP").
func PermissionDenied(reason, message string, metadata ...string) error {
	return withDetails(codes.PermissionDenied, message, errorInfo(reason, metadata))
}

// Aborted returns an Aborted status with a google.rpc.ErrorInfo, for
// concurrency conflicts the client should retry (reason e.g. "CONFLICT").
func Aborted(reason, message string, metadata ...string) error {
	return withDetails(codes.Aborted, message, errorInfo(reason, metadata))
}

// errorInfo builds an ErrorInfo; metadata is key, value pairs (a lone
// trailing key gets an empty value).
func errorInfo(reason string, kv []string) *errdetails.ErrorInfo {
	info := &errdetails.ErrorInfo{Reason: reason, Domain: Domain}
	if len(kv) > 0 {
		info.Metadata = make(map[string]string, (len(kv)+1)/2)
		for i := 0; i < len(kv); i += 2 {
			val := ""
			if i+1 < len(kv) {
				val = kv[i+1]
			}
			info.Metadata[kv[i]] = val
		}
	}
	return info
}

// Reason returns the ErrorInfo reason carried by err, or "".
func Reason(err error) string {
	info, _ := Detail[*errdetails.ErrorInfo](err)
	return info.GetReason()
}

// Detail returns the first detail of type T carried by err's gRPC status.
func Detail[T proto.Message](err error) (T, bool) {
	var zero T
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return zero, false
	}
	for _, d := range st.Details() {
		if t, ok := d.(T); ok {
			return t, true
		}
	}
	return zero, false
}

func withDetails(code codes.Code, msg string, details ...proto.Message) error {
	st := status.New(code, msg)
	v1 := make([]protoadapt.MessageV1, len(details))
	for i, d := range details {
		v1[i] = protoadapt.MessageV1Of(d)
	}
	withD, err := st.WithDetails(v1...)
	if err != nil {
		// Only possible for code OK or an unmarshalable detail, neither of
		// which these helpers build; keep the status without details.
		return st.Err()
	}
	return withD.Err()
}
