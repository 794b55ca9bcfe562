package ports

import (
	"testing"

	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
)

// Every RPC has a role list: the auth interceptor refuses a method it does
// not know, so a missing entry would lock the RPC for everyone.
func TestEveryMethodHasRoles(t *testing.T) {
	sd := followupv1.FollowUpService_ServiceDesc
	for _, m := range sd.Methods {
		full := "/" + sd.ServiceName + "/" + m.MethodName
		if len(MethodRoles[full]) == 0 {
			t.Errorf("%s has no roles", full)
		}
	}
	if len(MethodRoles) != len(sd.Methods) {
		t.Errorf("%d role entries for %d methods", len(MethodRoles), len(sd.Methods))
	}
}
