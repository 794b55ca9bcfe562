package season

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	inboundv1 "github.com/kesu315/kesu/proto/gen/go/kesu/inbound/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
)

// FileRequest is the contact as intake's FileComplaint request. A repeat
// contact is filed the same way: intake folds it into the open complaint of
// the same customer and order, as it would a report from another channel.
func (c Contact) FileRequest() *intakev1.FileComplaintRequest {
	return &intakev1.FileComplaintRequest{
		ClientRequestId: c.RequestID,
		ShopId:          c.ShopID,
		Channel:         c.Channel,
		Customer: &intakev1.Customer{
			CustomerRef: c.Customer.Ref, Name: c.Customer.Name, Phone: c.Customer.Phone, Email: c.Customer.Email,
		},
		OrderId:          c.OrderID,
		Items:            c.Items,
		OrderAmountFen:   c.OrderAmountFen,
		ClaimedAmountFen: c.ClaimedAmountFen,
		Description:      c.Text,
		OccurredAt:       timestamppb.New(c.At),
		ChannelDetails:   c.ChannelDetails,
		Complainant:      c.Complainant,
		CustomerType:     c.DeclaredType,
		ExpectedRemedies: c.ExpectedRemedies,
		Language:         string(c.Customer.Script),
	}
}

// InboundSubject is where an inbound contact is published.
func (c Contact) InboundSubject() string { return "inbound.complaints." + c.Source }

// InboundMessage is the contact as another system reports it (docs/inbound.md).
func (c Contact) InboundMessage() *inboundv1.InboundComplaint {
	return &inboundv1.InboundComplaint{
		Source:     c.Source,
		ExternalId: c.ExternalID,
		ShopId:     c.ShopID,
		Channel:    c.Channel,
		Customer: &inboundv1.Customer{
			CustomerRef: c.Customer.Ref, Name: c.Customer.Name, Phone: c.Customer.Phone, Email: c.Customer.Email,
		},
		OrderId:          c.OrderID,
		Items:            c.Items,
		OrderAmountFen:   c.OrderAmountFen,
		ClaimedAmountFen: c.ClaimedAmountFen,
		Description:      c.Text,
		OccurredAt:       timestamppb.New(c.At),
		ChannelDetails:   c.ChannelDetails,
		Complainant:      c.Complainant,
		CustomerType:     c.DeclaredType,
		ExpectedRemedies: c.ExpectedRemedies,
		Language:         string(c.Customer.Script),
	}
}

// InboundRequestID is the request id intake files an inbound contact under
// (docs/inbound.md, Idempotency).
func (c Contact) InboundRequestID() string { return "inbound:" + c.Source + ":" + c.ExternalID }
