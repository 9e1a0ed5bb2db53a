package enrol

import (
	"context"

	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// Handlers are the subscriptions `guichet-platform run` serves for
// enrolment: requests from unenrolled boxes and renewals from enrolled
// devices. A nil Service has none.
func (s *Service) Handlers() []platform.Handler {
	if s == nil {
		return nil
	}
	return []platform.Handler{
		{Filter: claim.AllRequests, Serve: s.HandleRequest},
		{Filter: claim.AllRenewals, Serve: s.HandleRenewal},
	}
}

// HandleRequest answers one enrolment request on the client's response
// topic. A message on a topic no client could use is dropped; anything
// else is answered, a refusal with its reason. Codes are never logged.
func (s *Service) HandleRequest(ctx context.Context, topic string, payload []byte) (string, []byte) {
	cid, err := claim.ParseRequestTopic(topic)
	if err != nil {
		s.note(ReasonBadTopic, "kind", "request")
		return "", nil
	}
	resp, tenant, device := s.enrol(ctx, payload)
	if resp.Error != "" {
		s.note(resp.Error, "kind", "request", "client", cid, "tenant", tenant, "device", device)
	} else {
		s.log.Info("device enrolled", "tenant", resp.Tenant, "device", resp.Device, "site", resp.Site, "role", resp.Role, "client", cid)
	}
	b, err := claim.Encode(resp)
	if err != nil {
		return "", nil
	}
	return claim.ResponseTopic(cid), b
}

func (s *Service) enrol(ctx context.Context, payload []byte) (resp *claim.Response, tenant, device string) {
	req, err := claim.DecodeRequest(payload)
	if err != nil {
		// The decoder's message names the field at fault; none carries
		// the code (ParseCode says what is wrong, not what was typed).
		return &claim.Response{V: claim.Version, Error: clipReason(ReasonBadRequest + ": " + err.Error())}, "", ""
	}
	resp, err = s.Enrol(ctx, req)
	if err == nil {
		return resp, resp.Tenant, resp.Device
	}
	reason := Reason(err)
	if reason == "" {
		s.log.Error("enrol", "device", req.Device, "err", err)
		reason = ReasonInternal
	}
	return &claim.Response{V: claim.Version, Error: reason}, "", req.Device
}

// HandleRenewal answers one renewal on the device's certificate topic.
func (s *Service) HandleRenewal(ctx context.Context, topic string, payload []byte) (string, []byte) {
	tenant, device, rest, err := envelope.ParseUp(topic)
	if err != nil || rest != "up/renew" {
		s.note(ReasonBadTopic, "kind", "renewal")
		return "", nil
	}
	out := &claim.Issued{V: claim.Version}
	r, err := claim.DecodeRenewal(payload)
	if err != nil {
		out.Error = clipReason(ReasonBadRequest + ": " + err.Error())
	} else if iss, err := s.Renew(ctx, tenant, device, r); err != nil {
		out.Error = Reason(err)
		if out.Error == "" {
			s.log.Error("renew", "tenant", tenant, "device", device, "err", err)
			out.Error = ReasonInternal
		}
	} else {
		out = iss
		s.log.Info("certificate renewed", "tenant", tenant, "device", device)
	}
	if out.Error != "" {
		s.note(out.Error, "kind", "renewal", "tenant", tenant, "device", device)
	}
	b, err := claim.Encode(out)
	if err != nil {
		return "", nil
	}
	return claim.CertTopic(tenant, device), b
}

// note counts a refusal under its reason, a decoder's message under
// "bad request" so the counters stay few, and logs it.
func (s *Service) note(reason string, attrs ...any) {
	key := reason
	if len(key) > len(ReasonBadRequest) && key[:len(ReasonBadRequest)] == ReasonBadRequest {
		key = ReasonBadRequest
	}
	s.mu.Lock()
	s.refused[key]++
	s.mu.Unlock()
	s.log.Warn("enrolment refused", append([]any{"reason", reason}, attrs...)...)
}

func clipReason(s string) string {
	if len(s) > claim.MaxReason {
		return s[:claim.MaxReason]
	}
	return s
}
