package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/wire"
)

func TestInventoryPendingApproveAuthorized(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s := openStore(t, dsn)
		if err := s.UpsertInventory(ctx, inventory("bldg-1", clock, "apt-1", "apt-2")); err != nil {
			t.Fatal(err)
		}
		wantBindings(t, s, "bldg-1", Pending, "apt-1", "apt-2")
		wantAuthorized(t, s, "bldg-1", "apt-1", false)

		if err := s.ApproveBinding(ctx, "bldg-1", "apt-1", "operator-7"); err != nil {
			t.Fatal(err)
		}
		wantAuthorized(t, s, "bldg-1", "apt-1", true)
		wantAuthorized(t, s, "bldg-1", "apt-2", false)
		wantAuthorized(t, s, "bldg-2", "apt-1", false)

		// A later inventory keeps the approval; an older one changes nothing.
		later := inventory("bldg-1", clock.Add(time.Hour), "apt-1", "apt-2", "apt-3")
		older := inventory("bldg-1", clock.Add(-time.Hour), "apt-9")
		for _, inv := range []wire.Inventory{later, older} {
			if err := s.UpsertInventory(ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
		wantAuthorized(t, s, "bldg-1", "apt-1", true)
		wantBindings(t, s, "bldg-1", Pending, "apt-2", "apt-3")
		wantBindings(t, s, "bldg-1", Approved, "apt-1")

		err := s.ApproveBinding(ctx, "bldg-1", "apt-9", "operator-7")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("approve meter apt-9 the agent never listed: got %v, want ErrNotFound", err)
		}
	})
}

func TestBindCentral(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		for range 2 { // binding twice is binding once
			if err := s.BindCentral(t.Context(), "bldg-5", "heat-main"); err != nil {
				t.Fatal(err)
			}
		}
		wantAuthorized(t, s, "bldg-5", "heat-main", true)

		bs, err := s.Bindings(t.Context(), "bldg-5", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 1 || bs[0].Source != FromCentral || !bs[0].Decided.Equal(clock) {
			t.Errorf("got bindings %+v, want one from the central list decided at %s", bs, clock)
		}
	})
}

func TestAgentStatusNewestWins(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		started := clock.Add(-time.Hour)
		steps := []struct {
			st       wire.Status
			received time.Time
		}{
			{wire.Status{Agent: "bldg-1", State: wire.StateOnline, Version: "v0.4.0",
				Started: started}, clock},
			{wire.Status{Agent: "bldg-1", State: wire.StateOffline}, clock.Add(time.Minute)},
			// A replica reading the old retained birth late changes nothing.
			{wire.Status{Agent: "bldg-1", State: wire.StateOnline, Version: "v0.3.0",
				Started: started}, clock.Add(-time.Minute)},
		}
		for _, step := range steps {
			if err := s.SetAgentStatus(t.Context(), step.st, step.received); err != nil {
				t.Fatal(err)
			}
		}

		got, err := s.AgentStatus(t.Context(), "bldg-1")
		want := AgentStatus{State: wire.StateOffline, Received: clock.Add(time.Minute),
			Version: "v0.4.0", Started: started}
		if err != nil || got != want {
			t.Errorf("got %+v (%v), want %+v", got, err, want)
		}
	})
}

func wantAuthorized(t *testing.T, s *Store, agent, meter string, want bool) {
	t.Helper()
	got, err := s.Authorized(t.Context(), agent, meter)
	if err != nil || got != want {
		t.Errorf("Authorized(%q, %q): got %v (%v), want %v", agent, meter, got, err, want)
	}
}

func wantBindings(t *testing.T, s *Store, agent string, state BindingState, meters ...string) {
	t.Helper()
	bs, err := s.Bindings(t.Context(), agent, state)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, b.Meter)
	}
	if !slices.Equal(got, meters) {
		t.Errorf("%s bindings of %s: got %v, want %v", state, agent, got, meters)
	}
}
