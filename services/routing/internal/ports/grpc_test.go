package ports_test

import (
	"testing"

	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/routing/internal/ports"
)

// Every RPC has a role allow-list: the auth interceptor refuses a method it
// does not know, so a missing entry would be an RPC nobody can call.
func TestEveryMethodHasRoles(t *testing.T) {
	desc := routingv1.RoutingService_ServiceDesc
	for _, m := range desc.Methods {
		full := "/" + desc.ServiceName + "/" + m.MethodName
		if len(ports.MethodRoles[full]) == 0 {
			t.Errorf("%s has no roles", full)
		}
	}
	if len(ports.MethodRoles) != len(desc.Methods) {
		t.Errorf("%d roles entries for %d methods", len(ports.MethodRoles), len(desc.Methods))
	}
}
